package io.github.flux4j.pipeline.latents;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where the initial noise comes from: diffusers' {@code generator} argument. Seeds are
 * {@code torch.Generator("cpu").manual_seed} values as 64-bit two's complement ({@code -1L} is
 * Python's {@code 2**64 - 1}, and also its {@code -1}).
 *
 * <ul>
 *   <li>{@link #of(long)}: one generator for the whole batch, diffusers' single
 *       {@code generator}: one draw over {@code [B, 16, h, w]}, so image 0 equals the single-image
 *       draw and image 1 continues the stream.</li>
 *   <li>{@link #perImage(long...)}: one generator per image, diffusers' list of generators: each
 *       image drawn as {@code [1, 16, h, w]} from its own generator, then concatenated; the batch
 *       must then be the number of seeds. A list of one seed is the same as one seed.</li>
 * </ul>
 *
 * @param seeds    the seeds (one, or one per image); copied
 * @param separateGenerators whether each image has its own generator ({@link #perImage(long...)})
 * @param draw     how bfloat16/float16 noise is drawn (see {@link NoiseDraw})
 */
public record NoiseSeed(long[] seeds, boolean separateGenerators, NoiseDraw draw) {
    /**
     * Validates and copies.
     *
     * @throws IllegalArgumentException if there is no seed, or several without {@code separateGenerators}
     */
    public NoiseSeed {
        Objects.requireNonNull(seeds, "seeds");
        Objects.requireNonNull(draw, "draw");
        if (seeds.length == 0) {
            throw new IllegalArgumentException("need at least one seed");
        }
        if (!separateGenerators && seeds.length != 1) {
            throw new IllegalArgumentException("one generator takes one seed, got " + seeds.length
                    + "; use NoiseSeed.perImage for one seed per image");
        }
        seeds = seeds.clone();
    }

    /** One generator seeded with {@code seed} for the whole batch, with the default draw. */
    public static NoiseSeed of(long seed) {
        return new NoiseSeed(new long[] {seed}, false, NoiseDraw.defaultDraw());
    }

    /**
     * One generator per image, with the default draw.
     *
     * @throws IllegalArgumentException if {@code seeds} is empty
     */
    public static NoiseSeed perImage(long... seeds) {
        return new NoiseSeed(seeds, true, NoiseDraw.defaultDraw());
    }

    /** The same seeds with another draw. */
    public NoiseSeed withDraw(NoiseDraw newDraw) {
        return new NoiseSeed(seeds, separateGenerators, newDraw);
    }

    /** The seeds (a copy). */
    @Override
    public long[] seeds() {
        return seeds.clone();
    }

    /** The single seed of {@link #of(long)}, or the first of {@link #perImage(long...)}. */
    public long firstSeed() {
        return seeds[0];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NoiseSeed n
                && Arrays.equals(seeds, n.seeds)
                && separateGenerators == n.separateGenerators
                && draw == n.draw;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(seeds), separateGenerators, draw);
    }

    @Override
    public String toString() {
        return "NoiseSeed[" + (separateGenerators ? "perImage " : "") + Arrays.toString(seeds) + ", " + draw + "]";
    }
}
