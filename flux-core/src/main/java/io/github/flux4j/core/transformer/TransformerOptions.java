package io.github.flux4j.core.transformer;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import java.util.Objects;

/**
 * How to load a transformer.
 *
 * @param device     where the weights live and the forward runs
 * @param dtype      the compute dtype of activations and dequantized weights (BF16 matches
 *                   diffusers' pipeline; F32 for references and tests)
 * @param arithmetic how GGUF-quantized weights are expanded on each forward: exactly in float32
 *                   (default), or in float16 like diffusers' GGUF path, to reproduce its output
 * @param strict     whether tensors of the file that the model does not use are an error
 *                   (default); when false they are logged and listed in
 *                   {@link FluxTransformer#leftovers()}
 * @param cudaKernels whether flux4j's CUDA kernels run on a CUDA device (default): GGUF
 *                   dequantization in one launch per weight and fused LayerNorm+modulation, QK
 *                   RMSNorm+RoPE and gated residuals; false runs LibTorch ops only (the reference
 *                   path, for comparisons)
 * @param dequantizedCacheBytes device bytes of expanded quantized weights kept resident (0, the
 *                   default: none): on a card with room to spare, dense speed from a GGUF file
 */
public record TransformerOptions(FluxDevice device, ComputeDtype dtype, DequantArithmetic arithmetic, boolean strict,
                                 boolean cudaKernels, long dequantizedCacheBytes) {

    public TransformerOptions {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(arithmetic, "arithmetic");
        if (dequantizedCacheBytes < 0) {
            throw new IllegalArgumentException("dequantizedCacheBytes must be >= 0, got " + dequantizedCacheBytes);
        }
    }

    /** Options with CUDA kernels on and no resident cache. */
    public TransformerOptions(FluxDevice device, ComputeDtype dtype, DequantArithmetic arithmetic, boolean strict) {
        this(device, dtype, arithmetic, strict, true, 0);
    }

    /** CPU, BF16, exact float32 dequantization, strict. */
    public static TransformerOptions defaults() {
        return new TransformerOptions(FluxDevice.cpu(), ComputeDtype.BF16, DequantArithmetic.EXACT_FLOAT32, true);
    }

    /** These options on another device. */
    public TransformerOptions withDevice(FluxDevice device) {
        return new TransformerOptions(device, dtype, arithmetic, strict, cudaKernels, dequantizedCacheBytes);
    }

    /** These options with another compute dtype. */
    public TransformerOptions withDtype(ComputeDtype dtype) {
        return new TransformerOptions(device, dtype, arithmetic, strict, cudaKernels, dequantizedCacheBytes);
    }

    /** These options with another dequantization arithmetic. */
    public TransformerOptions withArithmetic(DequantArithmetic arithmetic) {
        return new TransformerOptions(device, dtype, arithmetic, strict, cudaKernels, dequantizedCacheBytes);
    }

    /** These options with strictness set. */
    public TransformerOptions withStrict(boolean strict) {
        return new TransformerOptions(device, dtype, arithmetic, strict, cudaKernels, dequantizedCacheBytes);
    }

    /** These options with flux4j's CUDA kernels on (default) or off (LibTorch ops only). */
    public TransformerOptions withCudaKernels(boolean cudaKernels) {
        return new TransformerOptions(device, dtype, arithmetic, strict, cudaKernels, dequantizedCacheBytes);
    }

    /** These options with a budget of resident expanded weights, in bytes (0: none). */
    public TransformerOptions withDequantizedCacheBytes(long bytes) {
        return new TransformerOptions(device, dtype, arithmetic, strict, cudaKernels, bytes);
    }
}
