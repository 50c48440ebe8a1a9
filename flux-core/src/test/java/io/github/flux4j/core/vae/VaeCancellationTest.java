package io.github.flux4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.torch.CancellationPoints;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The VAE decoder's cancellation points: between its stages, leaving nothing behind. */
class VaeCancellationTest {
    @Test
    void aCheckStopsTheDecoderBetweenStagesAndItStaysUsable() throws IOException {
        try (VaeDecoder vae = VaeDecoder.load(
                        VaeReference.folder(), LoadOptions.defaults().withDtype(ComputeDtype.F32));
                PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            Tensor z = torch.randn(1, vae.config().latentChannels(), 8, 8);
            Tensor expected = vae.decode(z);

            List<String> points = new ArrayList<>();
            try (CancellationPoints.Installed c = CancellationPoints.install(points::add)) {
                assertThat(vae.decode(z).equal(expected)).isTrue();
            }
            int ups = vae.decoder.upBlocks.size();
            assertThat(points)
                    .startsWith("before the VAE decoder", "before the VAE mid block", "before VAE up block 1 of " + ups)
                    .hasSize(2 + ups);

            long before = NativeMemory.livePointers();
            try (CancellationPoints.Installed c = CancellationPoints.install(where -> {
                if (where.startsWith("before VAE up block 2 ")) {
                    throw new CancellationException("cancelled " + where);
                }
            })) {
                assertThatThrownBy(() -> vae.decode(z))
                        .isInstanceOf(CancellationException.class)
                        .hasMessage("cancelled before VAE up block 2 of " + ups);
            }
            assertThat(NativeMemory.livePointers())
                    .as("the stages' activations are freed")
                    .isLessThanOrEqualTo(before);
            assertThat(vae.decode(z).equal(expected)).isTrue();
        }
    }

    @Test
    void installationsNestAndEndWithTheirHandle() {
        List<String> outer = new ArrayList<>();
        List<String> inner = new ArrayList<>();
        CancellationPoints.reached("nothing installed"); // no-op
        try (CancellationPoints.Installed a = CancellationPoints.install(outer::add)) {
            CancellationPoints.reached("stage", 0, 3);
            try (CancellationPoints.Installed b = CancellationPoints.install(inner::add)) {
                CancellationPoints.reached("inner");
            }
            CancellationPoints.reached("stage", 2, 3);
        }
        CancellationPoints.reached("after");
        assertThat(outer).containsExactly("before stage 1 of 3", "before stage 3 of 3");
        assertThat(inner).containsExactly("before inner");
    }
}
