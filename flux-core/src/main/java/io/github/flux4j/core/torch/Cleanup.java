package io.github.flux4j.core.torch;

import org.jspecify.annotations.Nullable;

/**
 * Closing several native resources so that one failure does not leak the rest: each step runs,
 * the first exception is kept and the later ones are added to it as suppressed.
 *
 * <pre>{@code
 * RuntimeException failure = null;
 * failure = Cleanup.attempt(failure, a::close);
 * failure = Cleanup.attempt(failure, b::close);
 * if (failure != null) throw failure;
 * }</pre>
 */
public final class Cleanup {
    private Cleanup() {}

    /**
     * Runs {@code step}; its exception becomes the result if {@code failure} is null, or is added
     * to {@code failure} as suppressed.
     *
     * @return the first failure so far, or null
     */
    public static @Nullable RuntimeException attempt(@Nullable RuntimeException failure, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            if (failure == null) {
                return e;
            }
            failure.addSuppressed(e);
        }
        return failure;
    }
}
