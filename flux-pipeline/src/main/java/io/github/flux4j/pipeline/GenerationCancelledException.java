package io.github.flux4j.pipeline;

import io.github.flux4j.FluxException;

/**
 * A generation stopped because its {@link Cancellation} was cancelled or the generating thread
 * was interrupted. The message says where ("generation cancelled in denoising step 3 of 28,
 * before transformer single block 12 of 38: user request"). The call's tensors are freed and the
 * pipeline is usable at once.
 */
public final class GenerationCancelledException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** An exception with {@code message}. */
    public GenerationCancelledException(String message) {
        super(message);
    }
}
