package io.github.flux4j.core.torch;

import io.github.flux4j.core.doctor.NativesCheck;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.Context;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * Process-wide LibTorch setup and the thread-local guards inference runs under.
 *
 * <h2>Guards</h2>
 * LibTorch's guards are thread-local RAII objects: open them with try-with-resources on the thread
 * that runs the work, never store them, never let the GC close them (their destructor would then run
 * on JavaCPP's deallocator thread and restore the wrong thread's state).
 * <pre>{@code
 * try (InferenceMode im = Torch.inference(); PointerScope scope = new PointerScope()) {
 *     Tensor y = model.forward(x);
 * }
 * }</pre>
 *
 * <h2>Attention backend</h2>
 * {@code scaled_dot_product_attention} picks the first usable backend of a priority order. On CUDA
 * the first SDPA call rewrites that order (cuDNN first on sm90/sm100 with a recent runtime cuDNN)
 * and may overwrite an order set earlier, so {@link #preferCudnnAttention(FluxDevice)} warms up
 * first and sets the order afterwards. The on/off switches ({@link #enableOnlySdpa}) are never
 * rewritten.
 */
public final class Torch {
    private Torch() {}

    private static volatile boolean initialised;

    /**
     * Loads the LibTorch natives now (about half a second warm, more on the first run when JavaCPP
     * extracts them), rather than inside the first tensor operation, and applies flux4j's
     * process-wide settings. Idempotent; every model loader calls it.
     *
     * <p>First it checks the natives on the class path ({@link NativesCheck#beforeTorchLoads()}):
     * exactly one LibTorch natives jar, JavaCPP's and OpenBLAS's natives, and for the GPU natives the
     * CUDA libraries they link, preloading those of {@code FLUX4J_CUDA_LIBS}.
     *
     * <p>The one setting: NNPACK is switched off ({@code setUserEnabledNNPACK(false)}). LibTorch
     * asks NNPACK about every CPU convolution (the VAE's); on CPUs NNPACK does not support (many
     * VMs, AMD EPYC among them) each of those calls printed {@code Could not initialize NNPACK!
     * Reason: Unsupported hardware.} on standard error, 12-34 times per generation, in the middle
     * of the progress bar, and then used LibTorch's other convolution kernels anyway. Off, those
     * same kernels run (identical images) and nothing is printed.
     *
     * @throws IllegalStateException if the natives cannot load, naming each problem and its fix
     */
    public static void init() {
        if (initialised) {
            return;
        }
        synchronized (Torch.class) {
            if (!initialised) {
                NativesCheck.beforeTorchLoads();
                Loader.load(torch.class);
                torch.globalContext().setUserEnabledNNPACK(false);
                initialised = true;
            }
        }
    }

    /**
     * A new {@link InferenceMode} guard: no autograd recording, no version counters. Tensors made
     * under it are inference tensors. Use with try-with-resources on the working thread.
     */
    public static InferenceMode inference() {
        return new InferenceMode();
    }

    /**
     * A new {@link NoGradGuard}: autograd off on this thread until closed. Prefer
     * {@link #inference()}; this is for code that must mix with tensors made outside inference mode
     * and then be modified in place.
     */
    public static NoGradGuard noGrad() {
        return new NoGradGuard();
    }

    /**
     * The dtype of {@code t}, comparable with {@code ==} and usable in enum sets and switches.
     *
     * <p>JavaCPP returns native enums as fresh objects: {@code t.scalar_type() == ScalarType.Float}
     * is false even for a float tensor. This interns the value.
     */
    public static ScalarType dtype(Tensor t) {
        return t.scalar_type().intern();
    }

    /**
     * Sets LibTorch's intra-op thread pool size and OpenBLAS's (process-wide, all Java threads).
     *
     * <p>OpenBLAS runs LibTorch's float32 CPU matrix products on these builds and keeps its own
     * pool (one thread per core unless {@code OPENBLAS_NUM_THREADS} says otherwise), which
     * {@code torch.set_num_threads} does not limit: oversubscribed, the two pools made tiny
     * forwards 30-40 times slower on two cores. This sets both, with OpenBLAS's
     * {@code blas_set_num_threads} (which also sets MKL's, if that is the BLAS loaded).
     * {@link #intraOpThreads()} reports LibTorch's.
     *
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public static void setIntraOpThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        torch.set_num_threads(threads);
        openblas_nolapack.blas_set_num_threads(threads);
    }

    /** LibTorch's intra-op thread pool size. */
    public static int intraOpThreads() {
        return torch.get_num_threads();
    }

    /**
     * Sets the SDPA backend priority order (ATen's {@code setSDPPriorityOrder}). Backends not named
     * are appended in their default relative order, since ATen expects all of them.
     */
    public static void setSdpaPriority(SdpaBackend... order) {
        List<SdpaBackend> full = new ArrayList<>(List.of(order));
        for (SdpaBackend b : List.of(
                SdpaBackend.FLASH,
                SdpaBackend.EFFICIENT,
                SdpaBackend.MATH,
                SdpaBackend.CUDNN,
                SdpaBackend.OVERRIDEABLE)) {
            if (!full.contains(b)) {
                full.add(b);
            }
        }
        long[] ids = full.stream().mapToLong(SdpaBackend::atenId).toArray();
        try (PointerScope scope = new PointerScope()) {
            torch.globalContext().setSDPPriorityOrder(new LongVector(ids));
        }
    }

    /** The current SDPA backend priority order, highest priority first. */
    public static List<SdpaBackend> sdpaPriority() {
        try (PointerScope scope = new PointerScope()) {
            IntPointer order = torch.globalContext().sDPPriorityOrder();
            List<SdpaBackend> out = new ArrayList<>();
            for (int i = 0; i < SdpaBackend.values().length; i++) {
                out.add(SdpaBackend.ofAtenId(order.get(i)));
            }
            return out;
        }
    }

    /**
     * Enables exactly {@code backend} (the way to force one: the per-backend ops are not bound).
     * The math backend is the only one that works on every device and dtype; forcing a CUDA-only
     * backend on CPU makes SDPA fail with "No viable backend".
     */
    public static void enableOnlySdpa(SdpaBackend backend) {
        setSdpaEnabled(EnumSet.of(backend));
    }

    /** Enables every SDPA backend again (LibTorch's default). */
    public static void enableAllSdpa() {
        setSdpaEnabled(EnumSet.allOf(SdpaBackend.class));
    }

    private static void setSdpaEnabled(EnumSet<SdpaBackend> on) {
        Context ctx = torch.globalContext();
        ctx.setSDPUseMath(on.contains(SdpaBackend.MATH));
        ctx.setSDPUseFlash(on.contains(SdpaBackend.FLASH));
        ctx.setSDPUseMemEfficient(on.contains(SdpaBackend.EFFICIENT));
        ctx.setSDPUseCuDNN(on.contains(SdpaBackend.CUDNN));
        ctx.setSDPUseOverrideable(on.contains(SdpaBackend.OVERRIDEABLE));
    }

    /**
     * Makes CUDA attention pick cuDNN first, then flash, efficient and math: what Python's PyTorch
     * selects by default on an H100 (measured: cuDNN is also about twice as fast as flash there, and
     * bitwise equal to the diffusers reference run). Runs one tiny bf16 SDPA call on {@code device}
     * first, because that first call may rewrite the order. Does nothing on the CPU, where cuDNN
     * does not exist.
     */
    public static void preferCudnnAttention(FluxDevice device) {
        if (!device.isCuda()) {
            return;
        }
        init();
        Loader.load(torch_cuda.class);
        try (PointerScope scope = new PointerScope()) {
            TensorOptions opts = new TensorOptions(ScalarType.BFloat16).device(new DeviceOptional(device.toTorch()));
            Tensor q = torch.zeros(new long[] {1, 1, 16, 64}, opts);
            torch.scaled_dot_product_attention(q, q, q);
            torch_cuda.device_synchronize();
        }
        setSdpaPriority(SdpaBackend.CUDNN, SdpaBackend.FLASH, SdpaBackend.EFFICIENT, SdpaBackend.MATH);
    }

    /**
     * Returns the CUDA caching allocator's unused cached blocks to the driver ({@code
     * torch.cuda.empty_cache()}). Live tensors are unaffected; useful after freeing a model or
     * before measuring device memory. Does nothing when CUDA is not available.
     */
    public static void emptyCudaCache() {
        if (FluxDevice.cudaAvailable()) {
            try (PointerScope scope = new PointerScope()) {
                torch_cuda.getAllocator().emptyCache();
            }
        }
    }
}
