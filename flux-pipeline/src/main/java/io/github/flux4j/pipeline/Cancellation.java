package io.github.flux4j.pipeline;

import java.util.concurrent.CancellationException;
import org.jspecify.annotations.Nullable;

/**
 * A token for stopping a generation from another thread. Pass it in
 * {@link GenerationOptions.Builder#cancellation}; calling {@link #cancel()} makes the running
 * {@link FluxPipeline#generate} throw a {@link CancellationException} at its next stage or step
 * boundary (within one denoising step). The pipeline stays usable afterwards.
 *
 * <pre>{@code
 * Cancellation stop = new Cancellation();
 * Runtime.getRuntime().addShutdownHook(new Thread(stop::cancel));   // e.g. Ctrl-C
 * pipeline.generate(prompt, GenerationOptions.builder().cancellation(stop).build());
 * }</pre>
 *
 * <p>Once cancelled, a token stays cancelled: use a new one for the next generation. Thread-safe.
 */
public final class Cancellation {
    private volatile boolean cancelled;
    private volatile @Nullable String reason;

    /** A token that is not cancelled. */
    public Cancellation() {
    }

    /** Requests cancellation. Idempotent; returns at once. */
    public void cancel() {
        cancel(null);
    }

    /**
     * Requests cancellation with a reason, which the {@link CancellationException}'s message
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
     * @throws CancellationException if {@link #cancel()} has been called
     */
    public void throwIfCancelled(String where) {
        if (cancelled) {
            String why = reason;
            throw new CancellationException("generation cancelled " + where + (why == null ? "" : ": " + why));
        }
    }
}
