package io.github.flux4j.core.transformer;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.torch.Torch;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link RopeCache}: a hit only for the same, unchanged id tensors; the tables are EmbedNd's own. */
class RopeCacheTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static final EmbedNd EMBED = new EmbedNd(FluxConfig.dev());

    @Test
    void reusesTheTablesOnlyForTheSameUnchangedIds() {
        try (PointerScope scope = new PointerScope();
                RopeCache cache = new RopeCache()) {
            Device cpu = FluxDevice.cpu().toTorch();
            Tensor txt = Tensors.fromFloats(new float[4 * 3], new long[] {4, 3}, ComputeDtype.F32, FluxDevice.cpu());
            float[] pos = new float[6 * 3];
            for (int i = 0; i < 6; i++) {
                pos[3 * i + 1] = i / 3;
                pos[3 * i + 2] = i % 3;
            }
            Tensor img = Tensors.fromFloats(pos, new long[] {6, 3}, ComputeDtype.F32, FluxDevice.cpu());
            AtomicInteger computed = new AtomicInteger();
            java.util.function.Supplier<EmbedNd.Rope> compute = () -> {
                computed.incrementAndGet();
                return EMBED.forward(torch.cat(new TensorVector(txt, img), 0));
            };
            EmbedNd.Rope first = cache.get(txt, img, cpu, compute);
            EmbedNd.Rope again = cache.get(txt, img, cpu, compute);
            assertThat(computed).hasValue(1);
            assertThat(again.cos().is_same(first.cos())).isTrue(); // new references, the same tensor
            EmbedNd.Rope fresh = EMBED.forward(torch.cat(new TensorVector(txt, img), 0));
            assertThat(torch.equal(again.cos(), fresh.cos())).isTrue();
            assertThat(torch.equal(again.sin(), fresh.sin())).isTrue();

            // the same values in another tensor: computed again (identity, not content, is the key)
            Tensor imgCopy = img.clone();
            cache.get(txt, imgCopy, cpu, compute);
            assertThat(computed).hasValue(2);

            // changed in place (its version counter moves): computed again, with the new positions
            imgCopy.add_(new Scalar(1.0));
            EmbedNd.Rope moved = cache.get(txt, imgCopy, cpu, () -> {
                computed.incrementAndGet();
                return EMBED.forward(torch.cat(new TensorVector(txt, imgCopy), 0));
            });
            assertThat(computed).hasValue(3);
            assertThat(torch.equal(moved.cos(), fresh.cos())).isFalse();
            // the replaced entry's tables stay readable through the references handed out
            assertThat(torch.equal(first.cos(), fresh.cos())).isTrue();

            // off by the property: computed on every call
            System.setProperty(RopeCache.PROPERTY, "false");
            try {
                cache.get(txt, imgCopy, cpu, compute);
                cache.get(txt, imgCopy, cpu, compute);
                assertThat(computed).hasValue(5);
            } finally {
                System.clearProperty(RopeCache.PROPERTY);
            }
        }
    }
}
