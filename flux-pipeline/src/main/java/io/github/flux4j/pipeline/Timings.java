package io.github.flux4j.pipeline;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Wall-clock times of one generation's stages. On CUDA each stage is timed until the device
 * finished its work, so the parts add up to (about) the total.
 *
 * @param textEncoding tokenization and both text encoders (model moves of {@link Offload#MODEL}
 *                     included)
 * @param steps        each denoising step (transformer forward and scheduler step), in order
 * @param decode       unpacking, the VAE decoder and post-processing to 8-bit images (the VAE's
 *                     move included)
 * @param modelMoves   time spent moving models between the CPU and the device
 *                     ({@link Offload#MODEL}; part of the stages above), zero otherwise
 * @param total        the whole {@link FluxPipeline#generate} call
 */
public record Timings(
        Duration textEncoding, List<Duration> steps, Duration decode, Duration modelMoves, Duration total) {
    /** Copies the step list. */
    public Timings {
        Objects.requireNonNull(textEncoding, "textEncoding");
        steps = List.copyOf(steps);
        Objects.requireNonNull(decode, "decode");
        Objects.requireNonNull(modelMoves, "modelMoves");
        Objects.requireNonNull(total, "total");
    }

    /** All denoising steps together. */
    public Duration denoising() {
        return steps.stream().reduce(Duration.ZERO, Duration::plus);
    }

    /** The mean time of a denoising step, or zero without steps. */
    public Duration meanStep() {
        return steps.isEmpty() ? Duration.ZERO : denoising().dividedBy(steps.size());
    }

    @Override
    public String toString() {
        return String.format(
                "text %.3f s, %d steps %.3f s (%.3f s/step), decode %.3f s, moves %.3f s, total %.3f s",
                seconds(textEncoding),
                steps.size(),
                seconds(denoising()),
                seconds(meanStep()),
                seconds(decode),
                seconds(modelMoves),
                seconds(total));
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }
}
