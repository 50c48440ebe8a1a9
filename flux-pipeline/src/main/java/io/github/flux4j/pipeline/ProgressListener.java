package io.github.flux4j.pipeline;

/**
 * Receives a call after every denoising step of {@link FluxPipeline#generate}, on the generating
 * thread (what diffusers' progress bar and {@code callback_on_step_end} see). Keep it quick: the
 * next step waits for it. An exception it throws ends the generation and propagates to the caller
 * of {@code generate}.
 */
@FunctionalInterface
public interface ProgressListener {
    /** A step has finished. */
    void onStep(StepProgress progress);
}
