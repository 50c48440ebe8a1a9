package io.github.flux4j.core.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_GELU_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_EPILOGUE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_POINTER_MODE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_POINTER_MODE_HOST;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasLtCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtGetVersion;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmul;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoGetHeuristic;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutCreate;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import io.github.flux4j.core.torch.Tensors;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The many-row GEMMs of a forward through cuBLASLt directly, for 16-bit tensors on a CUDA device.
 *
 * <p>Why not LibTorch's own call: {@code at::linear} with a bias also ends in cuBLASLt, but asks it
 * for an algorithm with LibTorch's workspace and hints on every call; asked once per shape with a
 * 32 MiB workspace, cuBLASLt's first choice ran FLUX.1-dev's GEMMs 0.7-3.2 ms a step faster on an
 * H100 (tools/bench/lt_algo_sweep.py). (Folding FLUX's gated residual into the epilogue, the gate
 * as cuBLASLt's per-feature alpha vector, was tried: cuBLASLt has no bfloat16 algorithm for that
 * pointer mode on Hopper; see docs/cuda-kernels.md.)
 *
 * <p>What it computes, in cuBLASLt's column-major terms: {@code D[n, m] = alpha * W[n, k] x[m, k]^T
 * + beta * C + bias}, i.e. row-major {@code y[m, n] = x W^T (+ b)}, with float32 accumulation and
 * scaling and one rounding to the output dtype (with the GELU-bias epilogue the tanh GELU is applied
 * to the float32 value before it). The plan of each shape (descriptor, layouts, the heuristic's
 * first algorithm for this card) is made once and cached; a call sets the bias pointer and
 * enqueues one {@code cublasLtMatmul} on LibTorch's current stream, with a workspace of
 * {@value #WORKSPACE_MIB} MiB per stream (held for the life of the process, like LibTorch's own).
 *
 * <p>Switched by {@code -Dflux4j.cuda.cublasLt=true|false} (default {@link #ON_BY_DEFAULT}); off,
 * every GEMM runs through {@code at::linear} / {@code at::addmm}. Where cuBLASLt cannot be loaded, or has no algorithm for
 * a shape, the caller falls back to LibTorch's call (see {@link #status}).
 */
public final class CublasLt {
    private static final Logger LOG = LoggerFactory.getLogger(CublasLt.class);

    /**
     * System property: {@code true} sends the many-row GEMMs through this class, {@code false} through
     * LibTorch's {@code at::linear}/{@code addmm}; unset: {@link #ON_BY_DEFAULT}.
     */
    public static final String PROPERTY = "flux4j.cuda.cublasLt";

    /**
     * The path's default: off until a GPU run of the Java path has confirmed the probes' gain
     * (docs/cuda-kernels.md, "GEMMs through cuBLASLt").
     */
    public static final boolean ON_BY_DEFAULT = false;

    /** Workspace per stream, in MiB (what the probes measured with). */
    public static final int WORKSPACE_MIB = 32;

    /**
     * Fewest rows a GEMM must have to take this path: below it the call is a GEMV-like sliver that
     * LibTorch (or flux4j's fused matvec) serves as well, and FLUX's one-row modulation linears stay
     * on their paths.
     */
    public static final long MIN_ROWS = 16;

    private static final Map<Integer, Optional<CublasLt>> BY_DEVICE = new ConcurrentHashMap<>();
    private static final Map<Integer, String> STATUS = new ConcurrentHashMap<>();

    private final int device;
    private final cublasLtContext handle;
    private final Map<Long, Tensor> workspaces = new ConcurrentHashMap<>();
    private final Map<PlanKey, Optional<Plan>> plans = new ConcurrentHashMap<>();

    private CublasLt(int device, cublasLtContext handle) {
        this.device = device;
        this.handle = handle;
    }

    /**
     * Whether the path is on: {@code -Dflux4j.cuda.cublasLt=true|false} (read on every call), else
     * {@link #ON_BY_DEFAULT}.
     */
    public static boolean enabled() {
        String v = System.getProperty(PROPERTY);
        return v == null ? ON_BY_DEFAULT : "true".equalsIgnoreCase(v.trim());
    }

    /** What the path is on {@code device} ("cuBLASLt 130100, 32 MiB workspace per stream") or why it is not used. */
    public static String status(int device) {
        return STATUS.getOrDefault(
                device,
                enabled() ? "not requested yet" : "off (LibTorch's GEMM calls; -D" + PROPERTY + "=true turns it on)");
    }

    /**
     * The cuBLASLt path for a GEMM {@code x[m, k] W[n, k]^T}, or empty where LibTorch's call must run
     * it: switched off, not CUDA, not both bfloat16 or both float16, fewer than {@link #MIN_ROWS}
     * rows, a last dimension that is not contiguous, or cuBLASLt unavailable on the device.
     *
     * @param x2 the input as a matrix (rows {@code x2.stride(0)} apart)
     */
    public static Optional<CublasLt> forGemm(Tensor x2, Tensor w) {
        // the path's own conditions first: with it off (the default) nothing else is asked
        Optional<CublasLt> lt = forDevice(x2);
        if (lt.isEmpty() || x2.dim() != 2 || w.dim() != 2) {
            return Optional.empty();
        }
        if (w.scalar_type() != x2.scalar_type()
                || x2.size(0) < MIN_ROWS
                || x2.stride(1) != 1
                || w.stride(1) != 1
                || x2.stride(0) < x2.size(1)
                || w.stride(0) < w.size(1)
                || w.device().index() != x2.device().index()) {
            return Optional.empty();
        }
        return lt;
    }

    /**
     * The cuBLASLt path on {@code t}'s device for 16-bit tensors, or empty (switched off, not CUDA,
     * another dtype, unavailable); {@link #forGemm} checks a GEMM's operands besides.
     */
    public static Optional<CublasLt> forDevice(Tensor t) {
        ScalarType s = t.scalar_type();
        if (!enabled() || !t.is_cuda() || (s != ScalarType.BFloat16 && s != ScalarType.Half)) {
            return Optional.empty();
        }
        // a tensor on "cuda" without an index is on the current device
        int index = t.device().has_index() ? t.device().index() : torch_cuda.current_device();
        return BY_DEVICE.computeIfAbsent(index, CublasLt::create);
    }

    private static Optional<CublasLt> create(int index) {
        try {
            cublasLtContext h = new cublasLtContext();
            check(cublasLtCreate(h), "cublasLtCreate");
            String s = "cuBLASLt " + cublasLtGetVersion() + " on cuda:" + index + ", " + WORKSPACE_MIB
                    + " MiB workspace per stream";
            STATUS.put(index, s);
            LOG.info("GEMMs: {}", s);
            return Optional.of(new CublasLt(index, h));
        } catch (LinkageError | RuntimeException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            STATUS.put(
                    index,
                    "unavailable (" + e + (cause != e ? ", caused by " + cause : "")
                            + "): LibTorch's GEMM calls are used");
            LOG.info("GEMMs on cuda:{}: {}", index, STATUS.get(index));
            return Optional.empty();
        }
    }

    /**
     * {@code x2 W^T + b}, with the tanh GELU of the float32 value before the rounding where {@code gelu}
     * (which needs a bias: cuBLASLt's GELU epilogue is GELU-bias), as a new {@code [m, n]} tensor.
     *
     * @return the result, or null where cuBLASLt has no algorithm for this shape (then nothing ran)
     * @throws IllegalArgumentException if {@code gelu} without a bias, or a shape or dtype does not fit
     */
    public @Nullable Tensor linear(Tensor x2, Tensor w, @Nullable Tensor b, boolean gelu) {
        if (gelu && b == null) {
            throw new IllegalArgumentException("cuBLASLt's GELU epilogue needs a bias");
        }
        checkOperands(x2, w, b);
        Tensor d = torch.empty(new long[] {x2.size(0), w.size(0)}, options(x2), null);
        int epilogue =
                b == null ? CUBLASLT_EPILOGUE_DEFAULT : gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
        return run(x2, w, b, 0f, d, epilogue, dtypeCode(x2)) ? d : null;
    }

    /**
     * {@code d += x2 W^T} in place (beta 1): the joined linear's further parts.
     *
     * @return false where cuBLASLt has no algorithm for this shape (then nothing ran)
     */
    public boolean addLinear(Tensor d, Tensor x2, Tensor w) {
        checkOperands(x2, w, null);
        checkOut(d, x2, w);
        return run(x2, w, null, 1f, d, CUBLASLT_EPILOGUE_DEFAULT, dtypeCode(x2));
    }

    private static void checkOperands(Tensor x2, Tensor w, @Nullable Tensor b) {
        if (x2.dim() != 2 || w.dim() != 2 || x2.size(1) != w.size(1)) {
            throw new IllegalArgumentException("cuBLASLt GEMM: x " + Arrays.toString(Tensors.shape(x2))
                    + " does not fit W " + Arrays.toString(Tensors.shape(w)));
        }
        if (x2.scalar_type() != w.scalar_type() || (b != null && b.scalar_type() != w.scalar_type())) {
            throw new IllegalArgumentException("cuBLASLt GEMM: dtypes differ (x " + x2.scalar_type() + ", W "
                    + w.scalar_type() + (b == null ? "" : ", b " + b.scalar_type()) + ")");
        }
        if (b != null && (b.dim() != 1 || b.size(0) != w.size(0) || b.stride(0) != 1)) {
            throw new IllegalArgumentException("cuBLASLt GEMM: bias must be a contiguous [" + w.size(0) + "]");
        }
    }

    private static void checkOut(Tensor d, Tensor x2, Tensor w) {
        if (d.dim() != 2
                || d.size(0) != x2.size(0)
                || d.size(1) != w.size(0)
                || d.stride(1) != 1
                || d.stride(0) != w.size(0)
                || d.scalar_type() != x2.scalar_type()) {
            throw new IllegalArgumentException("cuBLASLt GEMM: output must be a row-major [" + x2.size(0) + ", "
                    + w.size(0) + "] " + x2.scalar_type() + ", got "
                    + Arrays.toString(Tensors.shape(d)) + " " + d.scalar_type());
        }
    }

    /** Enqueues one GEMM; false if cuBLASLt has no algorithm for it. */
    private boolean run(Tensor x2, Tensor w, @Nullable Tensor bias, float beta, Tensor d, int epilogue, int dtype) {
        long m = x2.size(0);
        long n = w.size(0);
        long k = w.size(1);
        PlanKey key = new PlanKey(
                dtype, m, n, k, w.stride(0), x2.stride(0), epilogue, alignment(w), alignment(x2), alignment(d));
        Optional<Plan> plan = plans.computeIfAbsent(key, this::plan);
        if (plan.isEmpty()) {
            return false;
        }
        byte previous = torch_cuda.current_device();
        if (previous != device) {
            torch_cuda.set_device((byte) device);
        }
        try {
            CUstream_st stream = torch_cuda.getCurrentCUDAStream((byte) device).stream();
            Tensor ws = workspaces.computeIfAbsent(stream.address(), s -> workspace(x2));
            plan.get().run(handle, w, x2, bias, beta, d, ws, stream);
        } finally {
            if (previous != device) {
                torch_cuda.set_device(previous);
            }
        }
        return true;
    }

    private static Tensor workspace(Tensor like) {
        // held for the life of the process (as LibTorch holds its own cuBLAS workspaces): one
        // reference more than any scope releases
        TensorOptions o = new TensorOptions(ScalarType.Byte).device(new DeviceOptional(like.device()));
        return torch.empty(new long[] {(long) WORKSPACE_MIB << 20}, o, null).retainReference();
    }

    private Optional<Plan> plan(PlanKey key) {
        try {
            Plan p = Plan.create(handle, key);
            if (p == null) {
                LOG.info("cuBLASLt has no algorithm for {}: LibTorch's call runs it", key);
            }
            return Optional.ofNullable(p);
        } catch (CudaException e) {
            LOG.info("cuBLASLt could not plan {} ({}): LibTorch's call runs it", key, e.getMessage());
            return Optional.empty();
        }
    }

    /** Largest power of two up to 256 that divides the tensor's address (cuBLASLt's alignment hints). */
    private static int alignment(Tensor t) {
        long a = t.data_ptr().address();
        int align = 256;
        while (align > 2 && a % align != 0) {
            align >>= 1;
        }
        return align;
    }

    private static int dtypeCode(Tensor t) {
        return t.scalar_type() == ScalarType.Half ? CUDA_R_16F : CUDA_R_16BF;
    }

    private static TensorOptions options(Tensor like) {
        return new TensorOptions(like.scalar_type()).device(new DeviceOptional(like.device()));
    }

    static void check(int status, String what) {
        if (status != 0) {
            throw new CudaException(what + " failed: cublasStatus_t " + status);
        }
    }

    /**
     * What a plan depends on: dtype, shape, leading dimensions of W and x (the output's is {@code n}),
     * epilogue and the operands' alignments ({@code C} is {@code D}).
     */
    record PlanKey(
            int dtype, long m, long n, long k, long ldw, long ldx, int epilogue, int alignW, int alignX, int alignD) {}

    /**
     * One GEMM shape's descriptor, layouts and algorithm, made once; native objects held for the
     * life of the process (a handful per shape). Calls are serialised on the plan because the bias
     * pointer is an attribute of its descriptor.
     */
    private static final class Plan {
        private final cublasLtMatmulDescOpaque_t desc;
        private final cublasLtMatrixLayoutOpaque_t layoutW;
        private final cublasLtMatrixLayoutOpaque_t layoutX;
        private final cublasLtMatrixLayoutOpaque_t layoutD;
        private final cublasLtMatmulHeuristicResult_t heuristic;
        private final FloatPointer one;
        private final FloatPointer beta0;
        private final FloatPointer beta1;
        private final LongPointer biasAddress;
        private final long workspaceBytes;

        private Plan(
                cublasLtMatmulDescOpaque_t desc,
                cublasLtMatrixLayoutOpaque_t layoutW,
                cublasLtMatrixLayoutOpaque_t layoutX,
                cublasLtMatrixLayoutOpaque_t layoutD,
                cublasLtMatmulHeuristicResult_t heuristic) {
            this.desc = desc;
            this.layoutW = layoutW;
            this.layoutX = layoutX;
            this.layoutD = layoutD;
            this.heuristic = heuristic;
            this.one = new FloatPointer(1).put(1f).retainReference();
            this.beta0 = new FloatPointer(1).put(0f).retainReference();
            this.beta1 = new FloatPointer(1).put(1f).retainReference();
            this.biasAddress = new LongPointer(1).retainReference();
            this.workspaceBytes = (long) WORKSPACE_MIB << 20;
        }

        /** The plan, or null if the heuristic returns no algorithm. */
        static @Nullable Plan create(cublasLtContext handle, PlanKey key) {
            // The objects below must outlive the forward's scopes: made in a scope of their own,
            // and the ones kept are retained once more than it releases.
            try (PointerScope scope = new PointerScope()) {
                PointerPointer<Pointer> out = new PointerPointer<>(1);
                check(cublasLtMatmulDescCreate(out, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
                cublasLtMatmulDescOpaque_t desc = new cublasLtMatmulDescOpaque_t(out.get(0));
                setInt(desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
                setInt(desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
                setInt(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, key.epilogue());
                setInt(desc, CUBLASLT_MATMUL_DESC_POINTER_MODE, CUBLASLT_POINTER_MODE_HOST);
                if (key.epilogue() != CUBLASLT_EPILOGUE_DEFAULT) {
                    setInt(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, key.dtype());
                }
                // column-major: W [n, k] row-major is k x n with leading dimension ldw, used transposed;
                // x [m, k] is k x m (ldx); D [m, n] is n x m (ld n)
                cublasLtMatrixLayoutOpaque_t lw = layout(out, key.dtype(), key.k(), key.n(), key.ldw());
                cublasLtMatrixLayoutOpaque_t lx = layout(out, key.dtype(), key.k(), key.m(), key.ldx());
                cublasLtMatrixLayoutOpaque_t ld = layout(out, key.dtype(), key.n(), key.m(), key.n());
                check(cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate");
                cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(out.get(0));
                try {
                    setPref(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, (long) WORKSPACE_MIB << 20);
                    setPref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.alignW());
                    setPref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.alignX());
                    setPref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.alignD());
                    setPref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.alignD());
                    cublasLtMatmulHeuristicResult_t result = new cublasLtMatmulHeuristicResult_t();
                    int[] found = new int[1];
                    check(
                            cublasLtMatmulAlgoGetHeuristic(handle, desc, lw, lx, ld, ld, pref, 1, result, found),
                            "cublasLtMatmulAlgoGetHeuristic");
                    if (found[0] < 1 || result.state() != 0) {
                        return null;
                    }
                    result.retainReference();
                    return new Plan(desc, lw, lx, ld, result);
                } finally {
                    cublasLtMatmulPreferenceDestroy(pref);
                }
            }
        }

        private static cublasLtMatrixLayoutOpaque_t layout(
                PointerPointer<Pointer> out, int dtype, long rows, long cols, long ld) {
            check(cublasLtMatrixLayoutCreate(out, dtype, rows, cols, ld), "cublasLtMatrixLayoutCreate");
            return new cublasLtMatrixLayoutOpaque_t(out.get(0));
        }

        private static void setInt(cublasLtMatmulDescOpaque_t desc, int attribute, int value) {
            try (IntPointer v = new IntPointer(1)) {
                v.put(value);
                check(
                        cublasLtMatmulDescSetAttribute(desc, attribute, v, 4),
                        "cublasLtMatmulDescSetAttribute " + attribute);
            }
        }

        /** Sets a preference: the workspace size is a uint64, the alignments uint32. */
        private static void setPref(cublasLtMatmulPreferenceOpaque_t pref, int attribute, long value) {
            Pointer v = attribute == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
                    ? new LongPointer(1).put(value)
                    : new IntPointer(1).put((int) value);
            try (v) {
                check(
                        cublasLtMatmulPreferenceSetAttribute(pref, attribute, v, v.sizeof()),
                        "cublasLtMatmulPreferenceSetAttribute " + attribute);
            }
        }

        synchronized void run(
                cublasLtContext handle,
                Tensor w,
                Tensor x2,
                @Nullable Tensor bias,
                float beta,
                Tensor d,
                Tensor workspace,
                CUstream_st stream) {
            if (bias != null) {
                biasAddress.put(bias.data_ptr().address());
                check(
                        cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, biasAddress, 8),
                        "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
            }
            check(
                    cublasLtMatmul(
                            handle,
                            desc,
                            one,
                            w.data_ptr(),
                            layoutW,
                            x2.data_ptr(),
                            layoutX,
                            beta == 0f ? beta0 : beta1,
                            d.data_ptr(),
                            layoutD,
                            d.data_ptr(),
                            layoutD,
                            heuristic.algo(),
                            workspace.data_ptr(),
                            workspaceBytes,
                            stream),
                    "cublasLtMatmul");
        }
    }
}
