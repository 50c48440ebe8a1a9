package io.github.flux4j.pipeline;

/**
 * Where a {@link FluxPipeline}'s models live between uses.
 *
 * <p>FLUX.1-dev's components are large (T5-XXL about 9.5 GB in bf16, the transformer 6 to 13 GB
 * as GGUF), and each runs in one stage only: the text encoders first, then the transformer for
 * every denoising step, then the VAE. {@link #MODEL} keeps only the running one on the GPU.
 */
public enum Offload {
    /** Every model stays on the pipeline's device: fastest, most device memory. */
    NONE,
    /**
     * diffusers' {@code enable_model_cpu_offload()}: every model lives on the CPU and is moved to
     * the pipeline's device only while its stage runs, in the order CLIP, T5, transformer, VAE;
     * moving one in moves the previous one out (and returns the freed blocks of LibTorch's CUDA
     * cache to the driver). After a generation every model is back on the CPU. Peak device memory
     * is that of the largest model plus its activations. Quantized GGUF weights move as their
     * bytes, so this works with GGUF (diffusers' sequential offload does not).
     *
     * <p>The CPU copy of each model is kept while it is on the device, so moving it out costs no
     * copy. On a CPU pipeline the moves are no-ops and the output is the same as with {@link #NONE}.
     */
    MODEL,
    /**
     * Block streaming, for cards smaller than the transformer: as {@link #MODEL} for CLIP and the
     * VAE; T5's blocks stream while it encodes (its embedding moved in, its arenas freed after the
     * stage), and the transformer's blocks live in page-locked host memory and are copied to the
     * device one block ahead of the block computing, on a side CUDA stream into two arenas the
     * size of the largest block ({@link io.github.flux4j.core.offload.BlockStreamer}). Only the
     * transformer's embedders, the arenas and the activations are on the device while it runs, so
     * a step costs about {@code max(compute, transformer bytes / host-to-device bandwidth)}. Works
     * with every GGUF type (the packed blocks travel) and with dense weights; the images are
     * bit-identical to {@link #NONE}'s. Host memory holds the model once (the blocks are moved,
     * not copied, into the pinned buffers).
     *
     * <p>{@code FluxPipeline.Builder.vramBudget} chooses between these modes per component and per
     * block instead.
     */
    SEQUENTIAL
}
