package io.github.flux4j.core.torch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.Pointer;

/**
 * Process memory figures for logging and leak tests. LibTorch's CPU tensors live in native memory
 * that neither the Java heap nor JavaCPP's allocation counters include, so the resident set size is
 * the number that shows a native leak.
 */
public final class NativeMemory {
    private static final Path STATM = Path.of("/proc/self/statm");
    private static final long PAGE_SIZE = 4096;

    private NativeMemory() {}

    /**
     * The resident set size of this process in bytes: from {@code /proc/self/statm} on Linux,
     * else JavaCPP's {@link Pointer#physicalBytes()} (which reads the same figure natively).
     */
    public static long rssBytes() {
        try {
            String[] fields = Files.readString(STATM).trim().split("\\s+");
            // statm: size resident shared text lib data dt, in pages. x86-64 Linux pages are 4 KiB.
            return Long.parseLong(fields[1]) * PAGE_SIZE;
        } catch (IOException | RuntimeException e) {
            return Pointer.physicalBytes();
        }
    }

    /**
     * Bytes of native memory JavaCPP allocated itself and still tracks (its own buffers such as
     * {@code FloatPointer}s; LibTorch tensor storage is not counted).
     */
    public static long totalBytes() {
        return Pointer.totalBytes();
    }

    /**
     * Native objects (tensor wrappers, scalars, options, ...) whose deallocation JavaCPP still
     * tracks: a count that grows without bound means wrappers escape every scope.
     */
    public static long livePointers() {
        return Pointer.totalCount();
    }

    /**
     * Asks the C allocator to return freed memory to the system ({@code malloc_trim}), so that
     * RSS figures taken afterwards reflect live data rather than allocator caches.
     */
    public static void trim() {
        Pointer.trimMemory();
    }
}
