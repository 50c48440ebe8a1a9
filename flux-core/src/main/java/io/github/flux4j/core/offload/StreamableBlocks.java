package io.github.flux4j.core.offload;

import java.util.function.BiConsumer;
import java.util.function.Function;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * A model made of a sequence of blocks whose weights a {@link BlockStreamer} can stream to the
 * device one block at a time: the FLUX transformer and the T5 encoder.
 *
 * <p>The models do not implement this themselves: their classes are API and this package is not
 * (it is exported to the pipeline only), so a model class registers a package-private adapter
 * ({@link #register}, from its static initializer) and the pipeline asks for it with
 * {@link #of}. That keeps {@code FluxTransformer}'s and {@code T5EncoderModel}'s public
 * signatures free of offload types.
 */
public interface StreamableBlocks {
    /**
     * The blocks of {@code model}, through the adapter its class registered.
     *
     * @throws IllegalArgumentException if {@code model}'s class registered none (not a
     *                                  streamable model)
     */
    static StreamableBlocks of(Object model) {
        return StreamableRegistry.blocksOf(model);
    }

    /**
     * Registers how to reach the blocks of the instances of {@code type}; called once by the
     * model class's static initializer, which runs before any instance exists.
     */
    static <M> void register(Class<M> type, Function<? super M, ? extends StreamableBlocks> blocks) {
        StreamableRegistry.register(type, blocks);
    }

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
