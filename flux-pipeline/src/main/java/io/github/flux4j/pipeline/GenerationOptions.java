package io.github.flux4j.pipeline;

import io.github.flux4j.pipeline.latents.NoiseDraw;
import io.github.flux4j.pipeline.latents.NoiseSeed;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.jspecify.annotations.Nullable;

/**
 * The settings of one {@link FluxPipeline#generate} call: diffusers' {@code FluxPipeline.__call__}
 * arguments (with the same defaults) plus progress, cancellation and tracing. Immutable; build
 * with {@link #builder()} (or {@link #toBuilder()} to change a copy).
 *
 * <pre>{@code
 * GenerationOptions o = GenerationOptions.builder()
 *         .size(768, 1360)            // height, width
 *         .steps(28).guidanceScale(3.5)
 *         .seed(42)
 *         .build();
 * }</pre>
 *
 * <p>Every setter checks its argument at once and throws {@link IllegalArgumentException} naming
 * the option; checks that need the model (the number of per-image seeds) happen in
 * {@code generate}.
 */
public final class GenerationOptions {
    /** The smallest height or width: one 2x2 patch of 8x8-pixel latents. */
    public static final int MIN_SIDE = 16;
    /**
     * The largest height or width. The RoPE positions of the image tokens are exact in bfloat16
     * only up to 256 tokens (4096 pixels) per side, and FLUX.1 was trained far below that.
     */
    public static final int MAX_SIDE = 4096;
    /** The most denoising steps accepted. */
    public static final int MAX_STEPS = 1000;
    /** FluxPipeline's {@code max_sequence_length} default and upper limit (T5 tokens). */
    public static final int MAX_SEQUENCE_LENGTH = 512;
    /** FluxPipeline's default guidance scale. */
    public static final double DEFAULT_GUIDANCE_SCALE = 3.5;
    /** FluxPipeline's default number of steps (FLUX.1-dev). */
    public static final int DEFAULT_STEPS = 28;
    /** flux4j's default number of steps for models without guidance embedding (FLUX.1-schnell). */
    public static final int DEFAULT_STEPS_SCHNELL = 4;

    private static final SecureRandom RANDOM = new SecureRandom();

    private final @Nullable Integer height;
    private final @Nullable Integer width;
    private final @Nullable Integer steps;
    private final @Nullable Double guidanceScale;
    private final int maxSequenceLength;
    private final int numImagesPerPrompt;
    private final long @Nullable [] seeds;
    private final boolean seedPerImage;
    private final NoiseDraw noiseDraw;
    private final boolean tiledDecode;
    private final @Nullable ProgressListener progressListener;
    private final @Nullable Cancellation cancellation;
    private final PipelineTrace trace;

    private GenerationOptions(Builder b) {
        this.height = b.height;
        this.width = b.width;
        this.steps = b.steps;
        this.guidanceScale = b.guidanceScale;
        this.maxSequenceLength = b.maxSequenceLength;
        this.numImagesPerPrompt = b.numImagesPerPrompt;
        this.seeds = b.seeds == null ? null : b.seeds.clone();
        this.seedPerImage = b.seedPerImage;
        this.noiseDraw = b.noiseDraw;
        this.tiledDecode = b.tiledDecode;
        this.progressListener = b.progressListener;
        this.cancellation = b.cancellation;
        this.trace = b.trace;
    }

    /** All defaults: 1024x1024, the model's step count, guidance 3.5, 512 tokens, a random seed. */
    public static GenerationOptions defaults() {
        return builder().build();
    }

    /** A builder with every option at its default. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.height = height;
        b.width = width;
        b.steps = steps;
        b.guidanceScale = guidanceScale;
        b.maxSequenceLength = maxSequenceLength;
        b.numImagesPerPrompt = numImagesPerPrompt;
        b.seeds = seeds == null ? null : seeds.clone();
        b.seedPerImage = seedPerImage;
        b.noiseDraw = noiseDraw;
        b.tiledDecode = tiledDecode;
        b.progressListener = progressListener;
        b.cancellation = cancellation;
        b.trace = trace;
        return b;
    }

    /** The requested height in pixels, or empty for the pipeline's default (1024 for FLUX). */
    public OptionalInt height() {
        return height == null ? OptionalInt.empty() : OptionalInt.of(height);
    }

    /** The requested width in pixels, or empty for the pipeline's default (1024 for FLUX). */
    public OptionalInt width() {
        return width == null ? OptionalInt.empty() : OptionalInt.of(width);
    }

    /** The number of denoising steps, or empty for the model's default (28, or 4 for schnell). */
    public OptionalInt steps() {
        return steps == null ? OptionalInt.empty() : OptionalInt.of(steps);
    }

    /** The guidance scale if set; empty means {@value #DEFAULT_GUIDANCE_SCALE}. */
    public OptionalDouble guidanceScale() {
        return guidanceScale == null ? OptionalDouble.empty() : OptionalDouble.of(guidanceScale);
    }

    /** T5's token count ({@code max_sequence_length}). */
    public int maxSequenceLength() {
        return maxSequenceLength;
    }

    /** Images per prompt ({@code num_images_per_prompt}). */
    public int numImagesPerPrompt() {
        return numImagesPerPrompt;
    }

    /** The seed of the one generator, if {@link Builder#seed} was used. */
    public OptionalLong seed() {
        return seeds != null && !seedPerImage ? OptionalLong.of(seeds[0]) : OptionalLong.empty();
    }

    /**
     * The noise seeds for a batch of {@code batch} images (prompts times images per prompt): the
     * seed(s) set, or a fresh random seed. Each call without a set seed draws a new one.
     *
     * @throws IllegalArgumentException if per-image seeds were set and do not number {@code batch}
     */
    public NoiseSeed noiseSeed(int batch) {
        NoiseSeed s;
        if (seeds == null) {
            s = NoiseSeed.of(RANDOM.nextLong());
        } else if (seedPerImage) {
            if (seeds.length != batch) {
                throw new IllegalArgumentException(
                        "seeds: " + seeds.length + " per-image seeds given, but the batch has " + batch
                                + " images (prompts x numImagesPerPrompt)");
            }
            s = NoiseSeed.perImage(seeds);
        } else {
            s = NoiseSeed.of(seeds[0]);
        }
        return s.withDraw(noiseDraw);
    }

    /** Which PyTorch version's reduced-precision noise to reproduce (float32 noise is the same). */
    public NoiseDraw noiseDraw() {
        return noiseDraw;
    }

    /** Whether the VAE decodes in tiles (diffusers' {@code vae.enable_tiling()}). */
    public boolean tiledDecode() {
        return tiledDecode;
    }

    /** The step listener, or null. */
    public @Nullable ProgressListener progressListener() {
        return progressListener;
    }

    /** The cancellation token, or null. */
    public @Nullable Cancellation cancellation() {
        return cancellation;
    }

    /** The intermediate-tensor receiver ({@link PipelineTrace#NONE} by default). */
    public PipelineTrace trace() {
        return trace;
    }

    @Override
    public String toString() {
        return "GenerationOptions[height=" + height + ", width=" + width + ", steps=" + steps + ", guidanceScale="
                + guidanceScale + ", maxSequenceLength=" + maxSequenceLength + ", numImagesPerPrompt="
                + numImagesPerPrompt + ", seeds=" + (seeds == null ? "random" : Arrays.toString(seeds))
                + (seedPerImage ? " (per image)" : "") + ", noiseDraw=" + noiseDraw + ", tiledDecode=" + tiledDecode
                + "]";
    }

    /** Builds {@link GenerationOptions}; each setter validates its argument. */
    public static final class Builder {
        private @Nullable Integer height;
        private @Nullable Integer width;
        private @Nullable Integer steps;
        private @Nullable Double guidanceScale;
        private int maxSequenceLength = MAX_SEQUENCE_LENGTH;
        private int numImagesPerPrompt = 1;
        private long @Nullable [] seeds;
        private boolean seedPerImage;
        private NoiseDraw noiseDraw = NoiseDraw.defaultDraw();
        private boolean tiledDecode;
        private @Nullable ProgressListener progressListener;
        private @Nullable Cancellation cancellation;
        private PipelineTrace trace = PipelineTrace.NONE;

        private Builder() {}

        /**
         * The image height in pixels. Sizes that are not multiples of 16 are rounded down, with a
         * warning, as diffusers does.
         *
         * @throws IllegalArgumentException unless {@value #MIN_SIDE} &lt;= height &lt;= {@value #MAX_SIDE}
         */
        public Builder height(int height) {
            this.height = side("height", height);
            return this;
        }

        /**
         * The image width in pixels, rounded down to a multiple of 16 like the height.
         *
         * @throws IllegalArgumentException unless {@value #MIN_SIDE} &lt;= width &lt;= {@value #MAX_SIDE}
         */
        public Builder width(int width) {
            this.width = side("width", width);
            return this;
        }

        /** Height and width, in that order (diffusers' argument order). */
        public Builder size(int height, int width) {
            return height(height).width(width);
        }

        /**
         * The number of denoising steps ({@code num_inference_steps}).
         *
         * @throws IllegalArgumentException unless 1 &lt;= steps &lt;= {@value #MAX_STEPS}
         */
        public Builder steps(int steps) {
            if (steps < 1 || steps > MAX_STEPS) {
                throw new IllegalArgumentException("steps must be in 1.." + MAX_STEPS + ", got " + steps);
            }
            this.steps = steps;
            return this;
        }

        /**
         * The guidance scale fed to guidance-distilled models (FLUX.1-dev: the embedded guidance,
         * not classifier-free guidance). Models without guidance embedding (schnell) ignore it,
         * with a warning when it was set.
         *
         * @throws IllegalArgumentException if it is NaN or infinite
         */
        public Builder guidanceScale(double guidanceScale) {
            if (!Double.isFinite(guidanceScale)) {
                throw new IllegalArgumentException("guidanceScale must be a finite number, got " + guidanceScale);
            }
            this.guidanceScale = guidanceScale;
            return this;
        }

        /**
         * T5's token count ({@code max_sequence_length}): prompts are padded to it and truncated
         * beyond it (with a warning). 512 for FLUX.1-dev, 256 is usual for schnell.
         *
         * @throws IllegalArgumentException unless 1 &lt;= length &lt;= 512
         */
        public Builder maxSequenceLength(int length) {
            if (length < 1 || length > MAX_SEQUENCE_LENGTH) {
                throw new IllegalArgumentException("maxSequenceLength must be in 1.." + MAX_SEQUENCE_LENGTH
                        + " (FluxPipeline's limit), got " + length);
            }
            this.maxSequenceLength = length;
            return this;
        }

        /**
         * Images per prompt ({@code num_images_per_prompt}); the batch is prompts times this, the
         * images of one prompt next to each other.
         *
         * @throws IllegalArgumentException if below 1
         */
        public Builder numImagesPerPrompt(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("numImagesPerPrompt must be at least 1, got " + n);
            }
            this.numImagesPerPrompt = n;
            return this;
        }

        /**
         * One noise generator for the whole batch, as {@code generator=torch.Generator("cpu")
         * .manual_seed(seed)} in diffusers: the same seed gives diffusers' image. 64-bit two's
         * complement like {@code manual_seed} ({@code -1} is Python's {@code 2**64 - 1}).
         */
        public Builder seed(long seed) {
            this.seeds = new long[] {seed};
            this.seedPerImage = false;
            return this;
        }

        /**
         * One generator per image (diffusers' list of generators); their number must equal the
         * batch (prompts times images per prompt).
         *
         * @throws IllegalArgumentException if no seed is given
         */
        public Builder seeds(long... seeds) {
            if (seeds.length == 0) {
                throw new IllegalArgumentException("seeds: give at least one seed");
            }
            this.seeds = seeds.clone();
            this.seedPerImage = true;
            return this;
        }

        /** Draws a new random seed for every generation (the default); the result reports it. */
        public Builder randomSeed() {
            this.seeds = null;
            this.seedPerImage = false;
            return this;
        }

        /**
         * Which PyTorch version's bfloat16/float16 noise to reproduce ({@link NoiseDraw}; float32
         * noise does not depend on it).
         */
        public Builder noiseDraw(NoiseDraw draw) {
            this.noiseDraw = Objects.requireNonNull(draw, "noiseDraw");
            return this;
        }

        /** Decodes in overlapping tiles (diffusers' {@code vae.enable_tiling()}): less memory for large images. */
        public Builder tiledDecode(boolean tiled) {
            this.tiledDecode = tiled;
            return this;
        }

        /** Called after every denoising step; null for none. */
        public Builder progressListener(@Nullable ProgressListener listener) {
            this.progressListener = listener;
            return this;
        }

        /** A token to stop the generation from another thread; null for none. */
        public Builder cancellation(@Nullable Cancellation cancellation) {
            this.cancellation = cancellation;
            return this;
        }

        /** Receives the intermediate tensors (debugging, comparisons with diffusers). */
        public Builder trace(PipelineTrace trace) {
            this.trace = Objects.requireNonNull(trace, "trace");
            return this;
        }

        /** The options. */
        public GenerationOptions build() {
            return new GenerationOptions(this);
        }

        private static int side(String what, int px) {
            if (px < MIN_SIDE || px > MAX_SIDE) {
                throw new IllegalArgumentException(
                        what + " must be in " + MIN_SIDE + ".." + MAX_SIDE + " pixels, got " + px);
            }
            return px;
        }
    }
}
