package io.github.flux4j.core.offload;

/**
 * Called by a {@link StreamableBlocks} model around every block of a forward, on the forward's
 * thread: block streaming ({@link BlockStreamer}) brings a block's weights to the device before it
 * runs and lets them go after.
 *
 * <p>Blocks are numbered in the order they run (the FLUX transformer: double-stream blocks
 * {@code 0 .. depth-1}, then single-stream blocks; T5: {@code encoder.block.0 ..}). {@link #afterBlock}
 * runs once the block's work has been issued (on CUDA it may still be executing), also when the
 * block failed.
 */
public interface BlockHook {
    /** Before block {@code index} runs. */
    void beforeBlock(int index);

    /** After block {@code index} ran (or failed). */
    void afterBlock(int index);
}
