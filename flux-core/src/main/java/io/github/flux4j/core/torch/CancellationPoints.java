package io.github.flux4j.core.torch;

import java.util.Objects;
import java.util.concurrent.CancellationException;
import org.jspecify.annotations.Nullable;

/**
 * Points inside long model forwards where the running work may be stopped: between the
 * transformer's blocks, between text-encoder layers, between VAE decoder stages. A caller that
 * wants to be able to stop a forward (the pipeline, for its {@code Cancellation} token and thread
 * interrupts) installs a {@link Check} on the working thread; each point calls it, and a check
 * that throws (a {@link CancellationException}) ends the forward there. Without an installed
 * check the points do nothing.
 *
 * <pre>{@code
 * try (CancellationPoints.Installed c = CancellationPoints.install(where -> {
 *         if (stop.get()) throw new CancellationException("cancelled " + where); })) {
 *     Tensor v = transformer.forward(...);   // stops before the next block once stop is set
 * }
 * }</pre>
 *
 * <p>The check is thread-local, like LibTorch's guards: it applies to forwards on the thread that
 * installed it. A forward stopped this way has freed its temporaries (every block runs in its own
 * {@link org.bytedeco.javacpp.PointerScope}) and leaves the model as it was: the model stays usable.
 */
public final class CancellationPoints {
    /** What a point calls; it throws to stop the work (usually a {@link CancellationException}). */
    @FunctionalInterface
    public interface Check {
        /**
         * Called at a point.
         *
         * @param where the point reached, for a message: {@code "before transformer double block 3 of 19"}
         */
        void check(String where);
    }

    private static final ThreadLocal<@Nullable Check> CURRENT = new ThreadLocal<>();

    private CancellationPoints() {}

    /**
     * Installs {@code check} on this thread until the returned handle is closed (which restores
     * the previous one: installations nest). Use with try-with-resources on the working thread.
     */
    public static Installed install(Check check) {
        Objects.requireNonNull(check, "check");
        Check previous = CURRENT.get();
        CURRENT.set(check);
        return new Installed(previous);
    }

    /**
     * A point: calls this thread's check, if one is installed, with
     * {@code "before <stage> <index + 1> of <count>"} (built only when a check is installed).
     *
     * @param stage what comes next, e.g. {@code "transformer double block"}
     * @param index its 0-based index
     * @param count how many there are
     */
    public static void reached(String stage, int index, int count) {
        Check c = CURRENT.get();
        if (c != null) {
            c.check("before " + stage + " " + (index + 1) + " of " + count);
        }
    }

    /** A point: calls this thread's check, if one is installed, with {@code "before <stage>"}. */
    public static void reached(String stage) {
        Check c = CURRENT.get();
        if (c != null) {
            c.check("before " + stage);
        }
    }

    /** An installation; closing it restores the check installed before. */
    public static final class Installed implements AutoCloseable {
        private final @Nullable Check previous;
        private boolean closed;

        private Installed(@Nullable Check previous) {
            this.previous = previous;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                if (previous == null) {
                    CURRENT.remove();
                } else {
                    CURRENT.set(previous);
                }
            }
        }
    }
}
