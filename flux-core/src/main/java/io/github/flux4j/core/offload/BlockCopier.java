package io.github.flux4j.core.offload;

import org.bytedeco.pytorch.Tensor;

/**
 * How a {@link BlockStreamer} holds block bytes on the host and copies them into its two arenas:
 * {@link CudaBlockCopier} (pinned host buffers, asynchronous copies on a side stream ordered by
 * events) or {@link HostBlockCopier} (the CPU: plain buffers, synchronous copies).
 */
interface BlockCopier extends AutoCloseable {
    /** A new uint8 CPU tensor of {@code bytes} bytes that the copier can copy from (pinned on CUDA). */
    Tensor allocateHost(long bytes);

    /**
     * Arena {@code slot} (0 or 1): a uint8 tensor of the arena size on the target device, allocated
     * again if {@link #freeArenas} freed it.
     */
    Tensor arena(int slot);

    /**
     * Waits for every copy and every block using an arena, then frees the arenas; the next
     * {@link #copy} or {@link #arena} allocates them again. Host buffers stay.
     */
    void freeArenas();

    /**
     * Issues the copy of {@code bytes} bytes of {@code host} into arena {@code slot}, to start once
     * the block that last used the slot is done with it ({@link #release}).
     */
    void copy(Tensor host, long bytes, int slot);

    /** Makes the compute stream wait until the last copy into {@code slot} has landed. */
    void awaitCopy(int slot);

    /** Marks the block using {@code slot} as issued on the compute stream: the slot may be refilled after it. */
    void release(int slot);

    /** Waits for all copies and frees the arenas and every host buffer made here. */
    @Override
    void close();
}
