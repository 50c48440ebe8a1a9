package io.github.flux4j.core.transformer;

/**
 * Called by {@link FluxTransformer} around every double- and single-stream block of a forward, on
 * the forward's thread: block streaming ({@code io.github.flux4j.core.offload.BlockStreamer})
 * brings a block's weights to the device before it runs and lets them go after.
 *
 * <p>Blocks are numbered in the order they run: the double-stream blocks {@code 0 .. depth-1},
 * then the single-stream blocks {@code depth .. depth+depthSingleBlocks-1} (see
 * {@link FluxTransformer#blockCount()}). {@link #afterBlock} runs once the block's work has been
 * issued (on CUDA it may still be executing), also when the block failed.
 */
public interface BlockHook {
    /** Before block {@code index} runs. */
    void beforeBlock(int index);

    /** After block {@code index} ran (or failed). */
    void afterBlock(int index);
}
