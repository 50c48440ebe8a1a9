package io.github.flux4j.core.torch;

/**
 * A model whose weights can change device after loading, as PyTorch's {@code Module.to(device)}:
 * every tensor it owns is moved <em>in place</em> (the Java objects stay, their storage moves, as
 * {@code param.data = param.data.to(device)} does), and the model computes on the new device from
 * then on. Quantized GGML blocks move as the bytes they are.
 *
 * <p>This is what model CPU offloading needs (diffusers' {@code enable_model_cpu_offload}): a
 * pipeline keeps its models on the CPU and moves each one to the GPU only while it runs.
 *
 * <p>Moving is not thread-safe with respect to the model's own work: no forward may run on the
 * model while it moves.
 */
public interface DeviceMovable {
    /** Where the weights are now, and so where the model computes. */
    FluxDevice device();

    /**
     * Moves every weight to {@code target}; a no-op when the weights are there already.
     *
     * @param target        the new device
     * @param keepHostCopy  when the weights leave the CPU, keep their CPU storage as well, so that
     *                      a later move back to the CPU is free (no copy, no host allocation): the
     *                      weights never change after loading. Host memory then stays allocated
     *                      while the weights are elsewhere, which is what offloading wants and a
     *                      one-way move does not. Ignored for moves that do not leave the CPU.
     * @throws IllegalStateException if the model is closed
     */
    void moveTo(FluxDevice target, boolean keepHostCopy);

    /**
     * Puts the weights that are on the CPU in page-locked host memory, so that moves to a GPU and
     * back run at the bus's speed (for models offloaded between uses). The default does nothing.
     *
     * @return bytes pinned (0 when nothing was pinned)
     * @throws IllegalStateException if CUDA is unavailable or the driver refuses the memory; the
     *                               weights then stay where they were
     */
    default long pinHostMemory() {
        return 0;
    }

    /** {@link #moveTo(FluxDevice, boolean)} without keeping a host copy: a one-way move. */
    default void moveTo(FluxDevice target) {
        moveTo(target, false);
    }
}
