package io.github.flux4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.clip.ClipTextOutput;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import java.util.function.Consumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Repeated encoder forwards must free every native object they create (the per-layer scopes and
 * the early release of each layer's input included) except their results, which belong to the
 * caller's scope.
 */
class TextEncoderMemoryTest {
    private static final int WARM_UP = 5;
    private static final int ITERATIONS = 50;

    private static long pointerGrowth(Consumer<Tensor> forward, Tensor input) {
        for (int i = 0; i < WARM_UP; i++) {
            try (PointerScope scope = new PointerScope()) {
                forward.accept(input);
            }
        }
        long before = NativeMemory.livePointers();
        for (int i = 0; i < ITERATIONS; i++) {
            try (PointerScope scope = new PointerScope()) {
                forward.accept(input);
            }
        }
        return NativeMemory.livePointers() - before;
    }

    @Test
    void forwardsFreeEverythingButTheirResults() throws IOException {
        try (TextRefs refs = TextRefs.open();
                T5EncoderModel t5 =
                        T5EncoderModel.load(TextRefs.resource("t5-gguf/t5-tiny-Q8_0.gguf"), LoadOptions.defaults());
                ClipTextModel clip = ClipTextModel.load(TextRefs.resource("clip"), LoadOptions.defaults())) {
            Tensor t5Ids = Scopes.keep(refs.get("t5.input_ids"));
            Tensor t5Mask = Scopes.keep(refs.get("t5.attention_mask"));
            Tensor clipIds = Scopes.keep(refs.get("clip.input_ids"));
            try {
                // Each forward makes hundreds of wrappers (~40 per layer); a leak of even one per
                // call would show as +50. The negative slack lets JavaCPP's deallocator thread free
                // unrelated garbage meanwhile.
                assertThat(pointerGrowth(t5::forward, t5Ids)).isBetween(-100L, 10L);
                assertThat(pointerGrowth(ids -> t5.forward(ids, t5Mask), t5Ids)).isBetween(-100L, 10L);
                assertThat(pointerGrowth(
                                ids -> {
                                    ClipTextOutput out = clip.forward(ids);
                                    assertThat(out.pooledOutput().isNull()).isFalse();
                                },
                                clipIds))
                        .isBetween(-100L, 10L);
            } finally {
                t5Ids.close();
                t5Mask.close();
                clipIds.close();
            }
        }
    }
}
