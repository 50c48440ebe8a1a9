package io.github.flux4j.pipeline;

import java.time.Duration;

/**
 * One finished denoising step, as reported to a {@link ProgressListener}.
 *
 * @param step       the index of the step just finished, {@code 0 .. totalSteps - 1}
 * @param totalSteps the number of denoising steps of this generation
 * @param timestep   the scheduler's timestep of this step ({@code 1000 * sigma}, float32)
 * @param stepTime   how long this step took (on CUDA, until the device finished it)
 * @param elapsed    time since the generation started (text encoding included)
 */
public record StepProgress(int step, int totalSteps, float timestep, Duration stepTime, Duration elapsed) {
    /** Steps finished so far, {@code step + 1}. */
    public int completed() {
        return step + 1;
    }

    /** The fraction of the denoising steps finished, in (0, 1]. */
    public double fraction() {
        return (double) completed() / totalSteps;
    }
}
