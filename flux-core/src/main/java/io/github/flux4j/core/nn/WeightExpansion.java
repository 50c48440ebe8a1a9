package io.github.flux4j.core.nn;

import io.github.flux4j.core.cuda.CudaKernels;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.quant.TorchDequantizer;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * How the quantized weights of one model become dense for their matmuls: the single place where
 * the path is chosen, per weight, on its first forward (and again after a device move).
 *
 * <ol>
 *   <li>{@link Path#CACHED}: the expanded weight is kept on the device, while the model's
 *       {@linkplain #of cache budget} has room for it (first come, first served): dense speed,
 *       dense memory. Off by default.</li>
 *   <li>{@link Path#CUDA_KERNEL}: one {@link CudaKernels} launch per forward writes the compute
 *       dtype straight from the packed blocks (CUDA devices, when NVRTC is there).</li>
 *   <li>{@link Path#LIBTORCH_OPS}: {@link TorchDequantizer}'s tensor operations, on any device.</li>
 * </ol>
 *
 * <p>On the {@link Path#CUDA_KERNEL} path, a call whose input has at most
 * {@link CudaKernels#MATVEC_MAX_ROWS} rows (FLUX's modulation, timestep, guidance and pooled-text
 * linears: one row per image) skips the expansion: {@link CudaKernels#matvec} reads the packed
 * blocks once and multiplies in the same kernel ({@link #matvecFor}). That is the one place where
 * the fused kernel beats expand-then-GEMM: with a single row the matmul only streams the weight,
 * and the expansion would write and re-read it at twice its packed size. For larger inputs the
 * GEMM is compute-bound and cuBLAS on the expanded weight wins (docs/cuda-kernels.md). Turn the
 * fused matvec off with {@code -Dflux4j.cuda.matvec=false}.
 *
 * <p>All three give the same bits. Extensions that change what a linear computes (a LoRA side
 * branch {@code y += scale * (x A) B}) wrap the {@link LinearOp} and leave this choice alone, so
 * every path stays available to them.
 */
public final class WeightExpansion {
    /** The way one weight is expanded. */
    public enum Path {
        /** Expanded once and kept (within the cache budget). */
        CACHED,
        /** Expanded on every forward by flux4j's CUDA kernel. */
        CUDA_KERNEL,
        /** Expanded on every forward by LibTorch tensor operations. */
        LIBTORCH_OPS
    }

    private final boolean kernels;
    private final boolean matvec;
    private final long cacheBudget;
    private final AtomicLong cacheUsed = new AtomicLong();

    private WeightExpansion(boolean kernels, boolean matvec, long cacheBudget) {
        if (cacheBudget < 0) {
            throw new IllegalArgumentException("cache budget must be >= 0 bytes, got " + cacheBudget);
        }
        this.kernels = kernels;
        this.matvec = matvec && MATVEC;
        this.cacheBudget = cacheBudget;
    }

    /** CUDA kernels where available, no cache. */
    public static WeightExpansion defaults() {
        return new WeightExpansion(true, true, 0);
    }

    /**
     * A policy for one model.
     *
     * @param kernels    use {@link CudaKernels} where available (false: always LibTorch ops, the
     *                   reference path)
     * @param cacheBytes device bytes of expanded weights to keep resident (0: none)
     */
    public static WeightExpansion of(boolean kernels, long cacheBytes) {
        return new WeightExpansion(kernels, true, cacheBytes);
    }

    /**
     * A policy for one model, choosing whether few-row inputs take the fused matvec.
     *
     * @param kernels    use {@link CudaKernels} where available
     * @param matvec     run inputs of at most {@link CudaKernels#MATVEC_MAX_ROWS} rows through the
     *                   fused dequantize-and-multiply kernel on the {@link Path#CUDA_KERNEL} path
     *                   (false: expand, then a GEMM, as every other input)
     * @param cacheBytes device bytes of expanded weights to keep resident (0: none)
     */
    public static WeightExpansion of(boolean kernels, boolean matvec, long cacheBytes) {
        return new WeightExpansion(kernels, matvec, cacheBytes);
    }

    /** Whether CUDA kernels may be used. */
    public boolean kernels() {
        return kernels;
    }

    /** The budget for resident expanded weights, in bytes. */
    public long cacheBudget() {
        return cacheBudget;
    }

    /** Bytes of expanded weights held now. */
    public long cachedBytes() {
        return cacheUsed.get();
    }

    /**
     * Chooses the path for a weight on {@code raw}'s device and, for {@link Path#CACHED}, reserves
     * {@code denseBytes} of the budget (give them back with {@link #release}).
     */
    Path choose(Tensor raw, GgmlType type, long numel, ScalarType dtype, long denseBytes) {
        if (raw.is_cuda() && cacheBudget > 0 && reserve(denseBytes)) {
            return Path.CACHED;
        }
        return kernelsFor(raw, type, numel, dtype).isPresent() ? Path.CUDA_KERNEL : Path.LIBTORCH_OPS;
    }

    /** System property that turns the fused matvec off ({@code false}). */
    public static final String MATVEC_PROPERTY = "flux4j.cuda.matvec";

    private static final boolean MATVEC = !"false"
            .equalsIgnoreCase(System.getProperty(MATVEC_PROPERTY, "true").trim());

    /**
     * The kernels to run one call of a weight on {@code path} as a fused matvec, or empty to expand
     * the weight and use a GEMM: only on the {@link Path#CUDA_KERNEL} path, for inputs of at most
     * {@link CudaKernels#MATVEC_MAX_ROWS} rows.
     */
    Optional<CudaKernels> matvecFor(@Nullable Path path, Tensor raw, GgmlType type, Tensor x, long inFeatures) {
        if (!matvec
                || path != Path.CUDA_KERNEL
                || !x.is_cuda()
                || x.numel() > CudaKernels.MATVEC_MAX_ROWS * inFeatures
                || !CudaKernels.supportsMatvec(type, Torch.dtype(x), inFeatures)) {
            return Optional.empty();
        }
        return kernelsFor(raw, type, raw.numel(), Torch.dtype(x)).isPresent()
                ? CudaKernels.forTensor(raw)
                : Optional.empty();
    }

    /** Returns bytes reserved by {@link #choose}. */
    void release(long bytes) {
        cacheUsed.addAndGet(-bytes);
    }

    /** Expands with the kernel when there is one for this weight, else with LibTorch ops. */
    Tensor expand(Tensor raw, GgmlType type, long[] shape, ScalarType dtype, DequantArithmetic arithmetic) {
        long numel = 1;
        for (long d : shape) {
            numel *= d;
        }
        Optional<CudaKernels> k = kernelsFor(raw, type, numel, dtype);
        return k.isPresent()
                ? k.get().dequantize(raw, type, shape, dtype, arithmetic)
                : TorchDequantizer.dequantize(raw, type, shape, dtype, arithmetic);
    }

    private Optional<CudaKernels> kernelsFor(Tensor raw, GgmlType type, long numel, ScalarType dtype) {
        if (!kernels || !raw.is_cuda() || !CudaKernels.readable(raw) || !CudaKernels.supports(type, dtype, numel)) {
            return Optional.empty();
        }
        return CudaKernels.forTensor(raw);
    }

    private boolean reserve(long bytes) {
        while (true) {
            long used = cacheUsed.get();
            if (used + bytes > cacheBudget) {
                return false;
            }
            if (cacheUsed.compareAndSet(used, used + bytes)) {
                return true;
            }
        }
    }

    @Override
    public String toString() {
        return "WeightExpansion[kernels=" + kernels + ", cache " + cacheUsed.get() + "/" + cacheBudget + " bytes]";
    }
}
