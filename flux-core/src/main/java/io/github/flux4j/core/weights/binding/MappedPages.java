package io.github.flux4j.core.weights.binding;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Gives the memory a load no longer needs back to the system while the load goes on, and when it
 * ends: file pages of buffers a source could not unmap itself, and the Java heap's garbage.
 *
 * <p>The sources map each tensor's region of the file ({@code GgufFile}, {@code SafetensorsFile});
 * the binder copies the bytes into LibTorch-owned memory and gives the buffer back
 * ({@code WeightSource.release}), which unmaps it at once. A buffer a source keeps mapped is
 * unmapped only when the JDK's cleaner runs after a garbage collection, and a load allocates
 * almost nothing on the Java heap, so without help no collection comes: every page read so far
 * would stay in the process's resident memory next to its copy. For such buffers this asks for a
 * collection after every {@value #COLLECT_EVERY_BYTES} bytes copied.
 *
 * <p>When a large load ends ({@link #loadEnded}), one more collection: the buffers dropped since
 * the last, and the heap the first load grows (JavaCPP's native library loading leaves about
 * 150 MB of garbage that no later collection would come for), leave the resident set before the
 * weights' host memory is measured or pinned. One takes 10-40 ms.
 */
final class MappedPages {
    /**
     * Copied bytes of buffers a source kept mapped between two collections (256 MiB): bounds the
     * mapped pages a load holds on top of the weights.
     */
    static final long COLLECT_EVERY_BYTES = 256L << 20;

    /** Loads of at least this many bytes end with a collection; smaller ones (tests' tiny models) do not. */
    static final long COLLECT_AFTER_LOADS_OF = 256L << 20;

    private static final AtomicLong SINCE_COLLECTION = new AtomicLong();

    private MappedPages() {}

    /** Records {@code bytes} copied out of a buffer the source kept mapped, which the caller dropped. */
    static void copied(long bytes) {
        if (SINCE_COLLECTION.addAndGet(bytes) >= COLLECT_EVERY_BYTES) {
            collect();
        }
    }

    /**
     * A model's load ended (or failed) after copying {@code loadedBytes}: collects if buffers were
     * dropped since the last collection, or if the load was large.
     */
    static void loadEnded(long loadedBytes) {
        if (SINCE_COLLECTION.get() > 0 || loadedBytes >= COLLECT_AFTER_LOADS_OF) {
            collect();
        }
    }

    private static void collect() {
        SINCE_COLLECTION.set(0);
        System.gc(); // unmaps the dropped buffers (their cleaners run once they are unreachable)
    }
}
