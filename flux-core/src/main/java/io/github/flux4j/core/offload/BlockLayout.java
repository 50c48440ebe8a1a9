package io.github.flux4j.core.offload;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Where each weight tensor of one block lies inside one contiguous buffer: the same layout in the
 * block's pinned host buffer and in a device arena, so that streaming a block is a single copy of
 * {@link #totalBytes()} bytes. Offsets are multiples of {@link #ALIGNMENT}, which keeps every
 * tensor aligned for its dtype (a {@code view(dtype)} of a byte buffer needs its offset to be a
 * multiple of the element size) and for vectorized kernels.
 *
 * @param entries    the tensors in the order given, with their offsets
 * @param totalBytes the buffer size: the end of the last tensor, rounded up to {@link #ALIGNMENT}
 */
public record BlockLayout(List<Entry> entries, long totalBytes) {
    /** Offset alignment in bytes (what CUDA's allocator guarantees for its own blocks). */
    public static final int ALIGNMENT = 256;

    /**
     * One tensor's place.
     *
     * @param name   the tensor's name (for messages)
     * @param offset its first byte in the buffer, a multiple of {@link #ALIGNMENT}
     * @param bytes  its size
     */
    public record Entry(String name, long offset, long bytes) {}

    /** Validates and copies. */
    public BlockLayout {
        entries = List.copyOf(entries);
    }

    /**
     * Lays out tensors of the given sizes one after another, each at the next aligned offset.
     *
     * @param names the tensors' names, for messages
     * @param bytes their sizes in bytes, one per name
     * @throws IllegalArgumentException if the lists differ in length or a size is negative
     */
    public static BlockLayout of(List<String> names, List<Long> bytes) {
        Objects.requireNonNull(names, "names");
        Objects.requireNonNull(bytes, "bytes");
        if (names.size() != bytes.size()) {
            throw new IllegalArgumentException(names.size() + " names but " + bytes.size() + " sizes");
        }
        List<Entry> out = new ArrayList<>(names.size());
        long offset = 0;
        for (int i = 0; i < names.size(); i++) {
            long n = bytes.get(i);
            if (n < 0) {
                throw new IllegalArgumentException("tensor " + names.get(i) + " has a negative size " + n);
            }
            out.add(new Entry(names.get(i), offset, n));
            offset = align(Math.addExact(offset, n));
        }
        return new BlockLayout(out, offset);
    }

    /** {@code n} rounded up to a multiple of {@link #ALIGNMENT}. */
    public static long align(long n) {
        return Math.addExact(n, ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** The arena size that holds any of {@code layouts}: the largest total. */
    public static long arenaBytes(List<BlockLayout> layouts) {
        long max = 0;
        for (BlockLayout l : layouts) {
            max = Math.max(max, l.totalBytes());
        }
        return max;
    }
}
