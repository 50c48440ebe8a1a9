package io.github.flux4j.core.weights.binding;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Gives the file pages a load has copied back to the system while the load goes on.
 *
 * <p>The sources map each tensor's region of the file ({@code GgufFile}, {@code SafetensorsFile});
 * the binder copies the bytes into LibTorch-owned memory and drops the buffer. A dropped mapping
 * is unmapped only when the JDK's cleaner runs after a garbage collection, and a load allocates
 * almost nothing on the Java heap, so without help no collection comes: every page of a 12 GB
 * file read so far stays in the process's resident memory next to its copy (twice the model in
 * host RAM for a model loaded on the CPU, the whole file for one loaded on the GPU). So after
 * every {@value #COLLECT_EVERY_BYTES} bytes copied this asks for a collection, which unmaps what
 * the load has dropped; a FLUX.1-dev load asks about twenty times, a tiny model never.
 */
final class MappedPages {
    /** Copied bytes between two collections: bounds the mapped pages a load holds (1 GiB). */
    static final long COLLECT_EVERY_BYTES = 1L << 30;

    private static final AtomicLong SINCE_COLLECTION = new AtomicLong();

    private MappedPages() {}

    /** Records {@code bytes} copied out of a source's mapped buffers, which the caller dropped. */
    static void copied(long bytes) {
        if (SINCE_COLLECTION.addAndGet(bytes) >= COLLECT_EVERY_BYTES) {
            SINCE_COLLECTION.set(0);
            System.gc(); // unmaps the dropped buffers (their cleaners run once they are unreachable)
        }
    }
}
