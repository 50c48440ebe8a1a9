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
    MODEL
}
