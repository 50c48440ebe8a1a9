package io.github.flux4j.core.weights;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import java.util.Objects;

/**
 * How to load a model: the one options record of all four models (transformer, CLIP, T5, VAE)
 * and of their weight binding.
 *
 * <pre>{@code
 * LoadOptions options = LoadOptions.defaults()                 // CPU, BF16, exact dequant, strict
 *         .withDevice(FluxDevice.cuda(0));
 * FluxTransformer flux = FluxTransformer.load(Path.of("flux1-dev-Q4_K_S.gguf"), options);
 * T5EncoderModel t5 = T5EncoderModel.load(Path.of("t5-v1_1-xxl-encoder-Q8_0.gguf"), options);
 * }</pre>
 *
 * @param device     where the weights live and the forward runs
 * @param dtype      the compute dtype of activations, dense weights and expanded quantized ones:
 *                   BF16 is what diffusers' FLUX pipeline runs every model in; F32 for references
 *                   and tests; F16 reproduces transformers' float16 T5 but is not recommended
 *                   (T5-XXL overflows float16)
 * @param arithmetic how GGUF-quantized weights are expanded on each forward: exactly in float32
 *                   (default), or in float16 like diffusers' GGUF path, to reproduce its output.
 *                   Dense weights (every VAE weight) ignore it
 * @param strict     whether tensors of the source that the model does not use are an error
 *                   (default); when false they are logged and listed in
 *                   {@link LoadedModel#leftovers()}. Tensors that belong to other models of a
 *                   combined checkpoint (a VAE's encoder, CLIP's vision tower) are hidden before
 *                   that check (see each model's {@code load})
 * @param cudaKernels whether flux4j's CUDA kernels run on a CUDA device (default): GGUF
 *                   dequantization in one launch per weight, and in the transformer fused
 *                   LayerNorm+modulation, QK RMSNorm+RoPE and gated residuals; false runs LibTorch
 *                   ops only (the reference path, for comparisons)
 * @param fusedMatvec whether a GGUF linear on the CUDA-kernel path with at most
 *                   {@code CudaKernels.MATVEC_MAX_ROWS} input rows (modulation, timestep, guidance and
 *                   pooled-text linears) runs the fused dequantize-and-multiply kernel (default) rather
 *                   than expanding its weight for a GEMM; same weights, float32 summation order differs.
 *                   Also off with {@code -Dflux4j.cuda.matvec=false}
 * @param dequantizedCacheBytes device bytes of expanded quantized weights kept resident (0, the
 *                   default: none): on a card with room to spare, dense speed from a GGUF file
 */
public record LoadOptions(
        FluxDevice device,
        ComputeDtype dtype,
        DequantArithmetic arithmetic,
        boolean strict,
        boolean cudaKernels,
        boolean fusedMatvec,
        long dequantizedCacheBytes) {

    /** Validates the fields. */
    public LoadOptions {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(arithmetic, "arithmetic");
        if (dequantizedCacheBytes < 0) {
            throw new IllegalArgumentException("dequantizedCacheBytes must be >= 0, got " + dequantizedCacheBytes);
        }
    }

    /** Options with CUDA kernels on and no resident cache. */
    public LoadOptions(FluxDevice device, ComputeDtype dtype, DequantArithmetic arithmetic, boolean strict) {
        this(device, dtype, arithmetic, strict, true, true, 0);
    }

    /** CPU, BF16, exact float32 dequantization, strict, CUDA kernels where available, no cache. */
    public static LoadOptions defaults() {
        return new LoadOptions(FluxDevice.cpu(), ComputeDtype.BF16, DequantArithmetic.EXACT_FLOAT32, true);
    }

    /** These options on another device. */
    public LoadOptions withDevice(FluxDevice device) {
        return new LoadOptions(device, dtype, arithmetic, strict, cudaKernels, fusedMatvec, dequantizedCacheBytes);
    }

    /** These options with another compute dtype. */
    public LoadOptions withDtype(ComputeDtype dtype) {
        return new LoadOptions(device, dtype, arithmetic, strict, cudaKernels, fusedMatvec, dequantizedCacheBytes);
    }

    /** These options with another dequantization arithmetic. */
    public LoadOptions withArithmetic(DequantArithmetic arithmetic) {
        return new LoadOptions(device, dtype, arithmetic, strict, cudaKernels, fusedMatvec, dequantizedCacheBytes);
    }

    /** These options with strictness set. */
    public LoadOptions withStrict(boolean strict) {
        return new LoadOptions(device, dtype, arithmetic, strict, cudaKernels, fusedMatvec, dequantizedCacheBytes);
    }

    /** These options with flux4j's CUDA kernels on (default) or off (LibTorch ops only). */
    public LoadOptions withCudaKernels(boolean cudaKernels) {
        return new LoadOptions(device, dtype, arithmetic, strict, cudaKernels, fusedMatvec, dequantizedCacheBytes);
    }

    /** These options with the fused dequantize-and-multiply kernel for few-row inputs on (default) or off. */
    public LoadOptions withFusedMatvec(boolean fusedMatvec) {
        return new LoadOptions(device, dtype, arithmetic, strict, cudaKernels, fusedMatvec, dequantizedCacheBytes);
    }

    /** These options with a budget of resident expanded weights, in bytes (0: none). */
    public LoadOptions withDequantizedCacheBytes(long bytes) {
        return new LoadOptions(device, dtype, arithmetic, strict, cudaKernels, fusedMatvec, bytes);
    }
}
