package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.pipeline.latents.NoiseDraw;
import io.github.flux4j.pipeline.latents.NoiseSeed;
import org.junit.jupiter.api.Test;

class GenerationOptionsTest {
    @Test
    void defaultsAreFluxPipelines() {
        GenerationOptions o = GenerationOptions.defaults();
        assertThat(o.height()).isEmpty();
        assertThat(o.width()).isEmpty();
        assertThat(o.steps()).isEmpty();
        assertThat(o.guidanceScale()).isEmpty();
        assertThat(o.maxSequenceLength()).isEqualTo(512);
        assertThat(o.numImagesPerPrompt()).isEqualTo(1);
        assertThat(o.seed()).isEmpty();
        assertThat(o.noiseDraw()).isEqualTo(NoiseDraw.defaultDraw());
        assertThat(o.tiledDecode()).isFalse();
        assertThat(o.progressListener()).isNull();
        assertThat(o.cancellation()).isNull();
        assertThat(o.trace()).isSameAs(PipelineTrace.NONE);
        // A random seed each time.
        assertThat(o.noiseSeed(1).firstSeed()).isNotEqualTo(o.noiseSeed(1).firstSeed());
    }

    @Test
    void sizesOutOfRangeAreRefused() {
        GenerationOptions.Builder b = GenerationOptions.builder();
        assertThatThrownBy(() -> b.height(15))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("height must be in 16..4096 pixels, got 15");
        assertThatThrownBy(() -> b.width(4097))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("width must be in 16..4096 pixels, got 4097");
        assertThatThrownBy(() -> b.size(-1, 64)).hasMessageContaining("height");
        assertThat(b.size(16, 4096).build().width()).hasValue(4096);
        assertThat(b.size(40, 36).build().height()).hasValue(40); // rounding happens in generate, with a warning
    }

    @Test
    void otherOptionsAreRangeChecked() {
        GenerationOptions.Builder b = GenerationOptions.builder();
        assertThatThrownBy(() -> b.steps(0)).hasMessage("steps must be in 1..1000, got 0");
        assertThatThrownBy(() -> b.steps(1001)).hasMessageContaining("1..1000");
        assertThatThrownBy(() -> b.maxSequenceLength(513)).hasMessageContaining("maxSequenceLength must be in 1..512");
        assertThatThrownBy(() -> b.maxSequenceLength(0)).hasMessageContaining("maxSequenceLength");
        assertThatThrownBy(() -> b.guidanceScale(Double.NaN)).hasMessageContaining("guidanceScale must be a finite");
        assertThatThrownBy(() -> b.guidanceScale(Double.POSITIVE_INFINITY)).hasMessageContaining("guidanceScale");
        assertThatThrownBy(() -> b.numImagesPerPrompt(0)).hasMessageContaining("numImagesPerPrompt must be at least 1");
        assertThatThrownBy(() -> b.seeds()).hasMessageContaining("at least one seed");
        assertThatThrownBy(() -> b.noiseDraw(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void seedsBecomeNoiseSeeds() {
        GenerationOptions one = GenerationOptions.builder()
                .seed(-1)
                .noiseDraw(NoiseDraw.IN_DTYPE)
                .build();
        assertThat(one.seed()).hasValue(-1);
        NoiseSeed s = one.noiseSeed(4);
        assertThat(s.seeds()).containsExactly(-1L);
        assertThat(s.separateGenerators()).isFalse();
        assertThat(s.draw()).isEqualTo(NoiseDraw.IN_DTYPE);

        GenerationOptions per = GenerationOptions.builder().seeds(3, 4).build();
        assertThat(per.seed()).isEmpty();
        assertThat(per.noiseSeed(2).seeds()).containsExactly(3L, 4L);
        assertThat(per.noiseSeed(2).separateGenerators()).isTrue();
        assertThatThrownBy(() -> per.noiseSeed(3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 per-image seeds given, but the batch has 3 images");
    }

    @Test
    void toBuilderCopiesEverything() {
        Cancellation c = new Cancellation();
        ProgressListener l = p -> {};
        GenerationOptions o = GenerationOptions.builder()
                .size(64, 80)
                .steps(7)
                .guidanceScale(2)
                .maxSequenceLength(77)
                .numImagesPerPrompt(3)
                .seed(9)
                .tiledDecode(true)
                .cancellation(c)
                .progressListener(l)
                .build();
        GenerationOptions copy = o.toBuilder().build();
        assertThat(copy.toString()).isEqualTo(o.toString());
        assertThat(copy.cancellation()).isSameAs(c);
        assertThat(copy.progressListener()).isSameAs(l);
        assertThat(o.toBuilder().steps(8).build().steps()).hasValue(8);
        assertThat(o.steps()).hasValue(7);
    }

    @Test
    void cancellationKeepsTheFirstReason() {
        Cancellation c = new Cancellation();
        c.throwIfCancelled("anywhere");
        c.cancel("first");
        c.cancel("second");
        assertThat(c.isCancelled()).isTrue();
        assertThatThrownBy(() -> c.throwIfCancelled("at step 3"))
                .isInstanceOf(GenerationCancelledException.class)
                .hasMessage("generation cancelled at step 3: first");
    }
}
