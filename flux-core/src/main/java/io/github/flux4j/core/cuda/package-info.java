/**
 * flux4j's own CUDA kernels: GGML dequantization for every supported type and the fused
 * element-wise chains of the FLUX blocks (LayerNorm + modulation, QK RMSNorm + RoPE, gated
 * residual), compiled at run time with NVRTC for the running card and launched through the CUDA
 * driver API on LibTorch's current stream, over the tensors' device pointers.
 *
 * <p>{@link io.github.flux4j.core.cuda.CudaKernels#forDevice} is the only entry point; it answers
 * empty (and logs why, once) where the kernels cannot be used (CPU natives, no NVRTC library, a
 * compile failure, {@code -Dflux4j.cuda.kernels=false}), and callers then keep the LibTorch-ops path.
 * The kernel source is {@code flux_kernels.cu} next to this package in the resources; it is
 * checked bit for bit against gguf-py on the CPU by {@code tools/kernels/check_host.py}.
 *
 * <p>{@link io.github.flux4j.core.cuda.CublasLt} runs the forward's many-row GEMMs through
 * cuBLASLt directly (one plan per shape, bias and GELU-bias epilogues), falling back to LibTorch's
 * GEMM calls where it cannot. {@link io.github.flux4j.core.cuda.CudaGraph} captures work on LibTorch
 * ops into a CUDA graph with a private memory pool of the caching allocator, for replay.
 */
@NullMarked
package io.github.flux4j.core.cuda;

import org.jspecify.annotations.NullMarked;
