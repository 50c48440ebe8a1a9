package io.github.flux4j.core.offload;

import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * A model made of a sequence of blocks whose weights a {@link BlockStreamer} can stream to the
 * device one block at a time: the FLUX transformer and the T5 encoder.
 */
public interface StreamableBlocks {
    /** Number of blocks, in the order they run. */
    int blockCount();

    /**
     * Hands every weight tensor of block {@code index} to {@code visitor}, named as in the
     * checkpoint, in a fixed order. The tensors stay owned by the model; a streamer may re-point
     * them ({@code set_data}) while no forward uses them.
     *
     * @throws IndexOutOfBoundsException if there is no such block
     */
    void forEachBlockParameter(int index, BiConsumer<String, Tensor> visitor);

    /** Installs (or, with null, removes) the hook called around every block of every forward. Not while a forward runs. */
    void setBlockHook(@Nullable BlockHook hook);

    /** The installed block hook, or null. */
    @Nullable
    BlockHook blockHook();
}
