package io.github.flux4j.pipeline;

import org.jspecify.annotations.Nullable;

/**
 * A token for stopping a generation from another thread. Pass it in
 * {@link GenerationOptions.Builder#cancellation}; calling {@link #cancel()} makes the running
 * {@link FluxPipeline#generate} throw a {@link GenerationCancelledException} at its next
 * cancellation point: between stages and denoising steps, and inside the models between the transformer's
 * blocks, the text encoders' layers and the VAE decoder's stages (so within about one block: well
 * under a second on a GPU, seconds on a CPU, rather than a whole step). The message says where
 * ("generation cancelled in denoising step 3 of 28, before transformer single block 12 of 38: user
 * request"). Every tensor of the call is freed and the pipeline is usable at once.
 *
 * <p>Interrupting the generating thread ({@link Thread#interrupt()}, {@code Future.cancel(true)})
 * has the same effect, with or without a token; the thread's interrupt status stays set, so a
 * later {@code generate} on that thread throws at once until the status is cleared
 * ({@link Thread#interrupted()}).
 *
 * <pre>{@code
 * Cancellation stop = new Cancellation();
 * Runtime.getRuntime().addShutdownHook(new Thread(stop::cancel));   // e.g. Ctrl-C
 * pipeline.generate(prompt, GenerationOptions.builder().cancellation(stop).build());
 * }</pre>
 *
 * <p>Once cancelled, a token stays cancelled: every later {@code generate} given the same token
 * throws {@link GenerationCancelledException} at once ("generation cancelled before it
 * started"), before any work. Use a new token for the next generation. Thread-safe.
 */
public final class Cancellation {
    private volatile boolean cancelled;
    private volatile @Nullable String reason;

    /** A token that is not cancelled. */
    public Cancellation() {}

    /** Requests cancellation. Idempotent; returns at once. */
    public void cancel() {
        cancel(null);
    }

    /**
     * Requests cancellation with a reason, which the {@link GenerationCancelledException}'s message
     * repeats. Only the first reason is kept.
     */
    public void cancel(@Nullable String why) {
        if (!cancelled) {
            reason = why;
            cancelled = true;
        }
    }

    /** Whether {@link #cancel()} has been called. */
    public boolean isCancelled() {
        return cancelled;
    }

    /**
     * Throws if cancelled.
     *
     * @param where the point reached, for the message (e.g. "before denoising step 3 of 28")
     * @throws GenerationCancelledException if {@link #cancel()} has been called
     */
    public void throwIfCancelled(String where) {
        if (cancelled) {
            String why = reason;
            throw new GenerationCancelledException("generation cancelled " + where + (why == null ? "" : ": " + why));
        }
    }
}
