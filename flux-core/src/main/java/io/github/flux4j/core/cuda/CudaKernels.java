package io.github.flux4j.core.cuda;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.cuda.CUDAStream;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * flux4j's CUDA kernels on one device: GGML dequantization (all 15 types, both arithmetics, to
 * float32, float16 or bfloat16) and the fused element-wise chains of a FLUX block.
 *
 * <pre>{@code
 * Optional<CudaKernels> k = CudaKernels.forTensor(raw);          // empty on CPU or without NVRTC
 * Tensor w = k.isPresent() ? k.get().dequantize(raw, GgmlType.Q8_0, shape, ScalarType.BFloat16, EXACT_FLOAT32)
 *                          : TorchDequantizer.dequantize(raw, GgmlType.Q8_0, shape, ScalarType.BFloat16);
 * }</pre>
 *
 * <p>Every method launches on LibTorch's current stream of the tensors' device, so it is ordered
 * with LibTorch's own kernels without synchronisation; results are new tensors owned by the
 * enclosing {@link org.bytedeco.javacpp.PointerScope}, like LibTorch's. Numerics: dequantization
 * is bit-identical to {@link io.github.flux4j.core.quant.TorchDequantizer} (and so to gguf-py in
 * {@link DequantArithmetic#EXACT_FLOAT32}); the element-wise kernels round where LibTorch's
 * separate kernels round, so only the norms' float32 reductions (summation order) can differ
 * from the unfused chain, within one unit of the output dtype's rounding.
 *
 * <p>Disable with {@code -Dflux4j.cuda.kernels=false} (the LibTorch-ops path is then used
 * everywhere); the compiled CUBIN is cached under {@code ~/.cache/flux4j/cuda} (override with
 * {@code -Dflux4j.cuda.cacheDir=...}, or {@code none}).
 */
public final class CudaKernels {
    private static final Logger LOG = LoggerFactory.getLogger(CudaKernels.class);
    /** System property that turns the kernels off ({@code false}). */
    public static final String ENABLED_PROPERTY = "flux4j.cuda.kernels";
    /** System property naming the CUBIN cache folder ({@code none}: no cache). */
    public static final String CACHE_PROPERTY = "flux4j.cuda.cacheDir";

    private static final Map<Integer, Optional<CudaKernels>> BY_DEVICE = new ConcurrentHashMap<>();
    private static final Map<Integer, String> STATUS = new ConcurrentHashMap<>();

    private static final Set<GgmlType> TYPES = EnumSet.of(
            GgmlType.F32,
            GgmlType.F16,
            GgmlType.BF16,
            GgmlType.Q4_0,
            GgmlType.Q4_1,
            GgmlType.Q5_0,
            GgmlType.Q5_1,
            GgmlType.Q8_0,
            GgmlType.Q2_K,
            GgmlType.Q3_K,
            GgmlType.Q4_K,
            GgmlType.Q5_K,
            GgmlType.Q6_K,
            GgmlType.IQ4_NL,
            GgmlType.IQ4_XS);

    private static final int THREADS = 256;
    /** Rows per group of lanes in {@code rms_rope_vec} (RRV_ROWS). */
    private static final int RRV_ROWS = 2;

    private final KernelModule module;

    private CudaKernels(KernelModule module) {
        this.module = module;
    }

    /**
     * The kernels for CUDA device {@code index}, compiled on first use; empty (the reason logged
     * once at INFO and kept in {@link #status}) when they cannot run there.
     */
    public static Optional<CudaKernels> forDevice(int index) {
        return BY_DEVICE.computeIfAbsent(index, CudaKernels::create);
    }

    /** The kernels for {@code t}'s device; empty for CPU tensors or where unavailable. */
    public static Optional<CudaKernels> forTensor(Tensor t) {
        if (!t.is_cuda()) {
            return Optional.empty();
        }
        return forDevice(t.device().index());
    }

    /**
     * What the kernels on {@code index} are (NVRTC version, architecture, compile or cache time) or
     * why they are not used; "not requested yet" before the first use.
     */
    public static String status(int index) {
        return STATUS.getOrDefault(index, "not requested yet");
    }

    /** Whether {@code -Dflux4j.cuda.kernels=false} is absent. */
    public static boolean enabledByProperty() {
        return onUnlessFalse(ENABLED_PROPERTY);
    }

    /** A switch that is on unless its system property says {@code false} (read on every call). */
    private static boolean onUnlessFalse(String property) {
        return !"false".equalsIgnoreCase(System.getProperty(property, "true").trim());
    }

    private static Optional<CudaKernels> create(int index) {
        if (!enabledByProperty()) {
            STATUS.put(index, "disabled by -D" + ENABLED_PROPERTY + "=false: LibTorch ops are used");
            LOG.info("CUDA kernels on cuda:{}: {}", index, STATUS.get(index));
            return Optional.empty();
        }
        try {
            cudaDeviceProp prop = torch_cuda.getDeviceProperties((byte) index);
            KernelModule m = KernelModule.load(index, prop.major(), prop.minor(), cacheDir());
            STATUS.put(index, m.description());
            LOG.info("CUDA kernels: {}", m.description());
            return Optional.of(new CudaKernels(m));
        } catch (LinkageError | RuntimeException e) {
            // No libnvrtc, an old driver, an unknown architecture: the LibTorch-ops path still works.
            STATUS.put(index, "unavailable (" + e + "): LibTorch ops are used");
            LOG.info("CUDA kernels on cuda:{}: {}", index, STATUS.get(index));
            return Optional.empty();
        }
    }

    private static @Nullable Path cacheDir() {
        String p = System.getProperty(CACHE_PROPERTY);
        if (p != null) {
            return p.isBlank() || p.equalsIgnoreCase("none") ? null : Path.of(p);
        }
        String home = System.getProperty("user.home");
        return home == null ? null : Path.of(home, ".cache", "flux4j", "cuda");
    }

    /** How the kernels were obtained, e.g. {@code NVRTC 13.0 kernels for sm_90 on cuda:0 (compiled in 850 ms)}. */
    public String description() {
        return module.description();
    }

    // ------------------------------------------------------------------------------------ dequantization

    /**
     * Whether {@code raw} can be read by the dequantization kernels: contiguous and starting on a
     * 16-byte boundary (LibTorch's allocations do; a view at an odd offset, e.g. into a shared
     * arena, may not).
     */
    public static boolean readable(Tensor raw) {
        return raw.is_contiguous() && address(raw) % 16 == 0;
    }

    /** Most tiles (256 threads' worth of blocks) one CTA of the dequantization kernels expands. */
    public static final int DEQUANT_MAX_TILES = 4;

    /** System property: tiles per CTA of the dequantization kernels, 1 to {@value #DEQUANT_MAX_TILES}. */
    public static final String DEQUANT_TILES_PROPERTY = "flux4j.cuda.dequantTiles";

    /**
     * Tiles per CTA {@link #dequantize} uses: {@code -Dflux4j.cuda.dequantTiles}, else
     * {@value #DEQUANT_MAX_TILES}. Every count gives the same bits; more tiles keep more of the
     * packed weight in flight per CTA.
     *
     * @throws IllegalArgumentException if the property is set to anything but 1 to {@value #DEQUANT_MAX_TILES}
     */
    public static int dequantTiles() {
        return intProperty(DEQUANT_TILES_PROPERTY, DEQUANT_MAX_TILES, DEQUANT_MAX_TILES);
    }

    /** Whether {@link #dequantize} takes this type, output dtype and element count. */
    public static boolean supports(GgmlType type, ScalarType outDtype, long numel) {
        return TYPES.contains(type) && outCode(outDtype) >= 0 && numel % 8 == 0;
    }

    /**
     * Expands GGML blocks into a new dense tensor, as
     * {@link io.github.flux4j.core.quant.TorchDequantizer#dequantize(Tensor, GgmlType, long[], ScalarType, DequantArithmetic)}
     * does, bit for bit, in one kernel launch.
     *
     * @param raw contiguous uint8 bytes on this device: {@code type.byteSize(numel)} of them
     * @throws IllegalArgumentException if {@link #supports} says no, or sizes, dtype or device do not fit
     */
    public Tensor dequantize(
            Tensor raw, GgmlType type, long[] shape, ScalarType outDtype, DequantArithmetic arithmetic) {
        return dequantize(raw, type, shape, outDtype, arithmetic, dequantTiles());
    }

    /**
     * {@link #dequantize(Tensor, GgmlType, long[], ScalarType, DequantArithmetic)} with an explicit
     * number of tiles per CTA for the block types (plain F32/F16/BF16 conversions ignore it): the
     * result is the same for every count, the speed is not (tests and {@code OpBenchmark} compare them).
     *
     * @param tiles 1 to {@link #DEQUANT_MAX_TILES}
     */
    public Tensor dequantize(
            Tensor raw, GgmlType type, long[] shape, ScalarType outDtype, DequantArithmetic arithmetic, int tiles) {
        if (tiles < 1 || tiles > DEQUANT_MAX_TILES) {
            throw new IllegalArgumentException("dequantize tiles must be 1 to " + DEQUANT_MAX_TILES + ", got " + tiles);
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
            }
            numel = Math.multiplyExact(numel, d);
        }
        ScalarType out = outDtype.intern();
        if (!supports(type, out, numel)) {
            throw new IllegalArgumentException("no CUDA kernel for " + type + " -> " + out + " with " + numel
                    + " elements (types: " + TYPES + "; Float/Half/BFloat16; a multiple of 8 elements)");
        }
        checkDevice(raw, "raw");
        if (Torch.dtype(raw) != ScalarType.Byte || !raw.is_contiguous()) {
            throw new IllegalArgumentException("raw must be contiguous uint8, got " + Torch.dtype(raw)
                    + (raw.is_contiguous() ? "" : " (not contiguous)"));
        }
        checkAligned(raw, "raw"); // K-quant decoders read 8-byte runs
        long bytes = type.byteSize(numel);
        if (raw.numel() != bytes) {
            throw new IllegalArgumentException("raw holds " + raw.numel() + " bytes but " + type + " of shape "
                    + Arrays.toString(shape) + " needs " + bytes);
        }
        Tensor dst = torch.empty(shape, options(out, raw), null);
        long octets = numel / 8;
        String name = switch (type) {
            case F32 -> "convert_i0_o" + outCode(out);
            case F16 -> "convert_i1_o" + outCode(out);
            case BF16 -> "convert_i2_o" + outCode(out);
            default ->
                "dequant_" + type.name() + "_a" + (arithmetic == DequantArithmetic.FLOAT16_LIKE_DIFFUSERS ? 1 : 0)
                        + "_o" + outCode(out);
        };
        KernelModule.LaunchArgs a =
                module.args().ptr(address(raw)).ptr(address(dst)).i64(octets);
        if (type.isQuantized()) {
            long perCta = (long) THREADS * tiles;
            module.launch(name, (octets + perCta - 1) / perCta, THREADS, 0, stream(raw), a.i32(tiles));
        } else {
            module.launch(name, (octets + THREADS - 1) / THREADS, THREADS, 0, stream(raw), a);
        }
        return dst;
    }

    // ------------------------------------------------------------------------------------ fused matvec

    /** Input rows {@link #matvec} takes at most (one per image: modulation, timestep, pooled text). */
    public static final int MATVEC_MAX_ROWS = 8;

    private static final int MATVEC_WARPS = 8;

    /** Most 256-weight chunks {@link #matvec} stages per round (the kernel's {@code MV_MAX_DEPTH}). */
    public static final int MATVEC_MAX_DEPTH = 4;

    /** System property: chunks per staging round of {@link #matvec}, 1 to {@value #MATVEC_MAX_DEPTH}. */
    public static final String MATVEC_DEPTH_PROPERTY = "flux4j.cuda.matvecDepth";

    /**
     * Default staging depth: the fastest measured (H200, 2026-12-06, Q8_0 {@code h -> 6h}: 0.077,
     * 0.061, 0.054 and 0.074 ms at depths 1-4; depth 4 compiles without spills, why it is slower is
     * not yet profiled).
     */
    public static final int MATVEC_DEFAULT_DEPTH = 3;

    /**
     * The staging depth {@link #matvec} uses: {@code -Dflux4j.cuda.matvecDepth}, else
     * {@value #MATVEC_DEFAULT_DEPTH}. Every depth gives the same bits; a deeper round keeps more of
     * the weight in flight per warp.
     *
     * @throws IllegalArgumentException if the property is set to anything but 1 to {@value #MATVEC_MAX_DEPTH}
     */
    public static int matvecDepth() {
        return intProperty(MATVEC_DEPTH_PROPERTY, MATVEC_DEFAULT_DEPTH, MATVEC_MAX_DEPTH);
    }

    /**
     * System property: {@code false} runs FLUX's feed-forward input layers on CUDA as a GEMM and a
     * GELU kernel instead of one GEMM with cuBLASLt's GELU epilogue ({@code at::_addmm_activation},
     * the default: the GELU on the float32 accumulator before the one rounding; 10.0 against 10.9 ms
     * per step for the double blocks' {@code mlp.0} on an H200, tools/bench/gemm_ceiling.py).
     */
    public static final String GELU_EPILOGUE_PROPERTY = "flux4j.cuda.geluEpilogue";

    /** Whether the GELU epilogue is on (unless {@code -Dflux4j.cuda.geluEpilogue=false}; read on every call). */
    public static boolean geluEpilogue() {
        return onUnlessFalse(GELU_EPILOGUE_PROPERTY);
    }

    /**
     * System property: {@code false} runs a single block's fused path with one {@code linear1} GEMM
     * whose 7h-wide output is sliced (the GELU a kernel over the slice) and {@code linear2} over the
     * concatenation {@code [attention | gelu(mlp)]}, instead of the default: {@code linear1} as two
     * GEMMs (q, k, v; and the feed-forward input with the GELU in the epilogue) and {@code linear2}
     * as two GEMMs over the parts, added into one output, so the concatenation is never written
     * ({@link io.github.flux4j.core.nn.LinearOp#forwardSplit}, {@code forwardJoined}).
     */
    public static final String SPLIT_SINGLE_LINEARS_PROPERTY = "flux4j.cuda.splitSingleLinears";

    /** Whether single blocks split their linears (unless {@code -Dflux4j.cuda.splitSingleLinears=false}). */
    public static boolean splitSingleLinears() {
        return onUnlessFalse(SPLIT_SINGLE_LINEARS_PROPERTY);
    }

    /**
     * System property choosing {@link #layerNormModulate}'s kernel: {@code pair} (the default: two
     * rows per block) or {@code row} (one row per block); both give the same bits. {@code OpBenchmark}
     * times both (H100, 2026-12-06: 0.031 against 0.033 ms for {@code [4608, 3072]} bf16; a variant
     * with one warp per row, tried the same day, took 0.034 ms and was removed).
     */
    public static final String LN_MODULATE_PROPERTY = "flux4j.cuda.lnModulate";

    /** The kernels of {@link #layerNormModulate}. */
    public enum LnModulateKernel {
        /**
         * Two rows per block where the rows per batch ({@code S}) are even, one row otherwise; both
         * rows' sums under one set of barriers.
         */
        PAIR,
        /** One row per block. */
        ROW
    }

    /** The kernel {@code -Dflux4j.cuda.lnModulate} asks for (read on every call; {@code PAIR} when unset). */
    public static LnModulateKernel lnModulateKernel() {
        String v = System.getProperty(LN_MODULATE_PROPERTY, "pair").trim();
        for (LnModulateKernel k : LnModulateKernel.values()) {
            if (k.name().equalsIgnoreCase(v)) {
                return k;
            }
        }
        throw new IllegalArgumentException("-D" + LN_MODULATE_PROPERTY + " must be pair or row, got '" + v + "'");
    }

    /**
     * System property: {@code false} runs {@link #rmsNormRope} with one warp per row and 4-byte
     * accesses instead of 16-byte vectors (which need 16-bit storage, a head dim of 8 times a power
     * of two up to 256 and 16-byte aligned rows; other inputs take the per-warp kernel anyway).
     */
    public static final String RMS_ROPE_VECTORS_PROPERTY = "flux4j.cuda.rmsRopeVectors";

    /** Whether {@link #rmsNormRope} may use its 16-byte-vector kernel (read on every call). */
    public static boolean rmsRopeVectors() {
        return onUnlessFalse(RMS_ROPE_VECTORS_PROPERTY);
    }

    /** A property of 1 to {@code max}, {@code unset} when unset. */
    private static int intProperty(String name, int unset, int max) {
        String v = System.getProperty(name);
        if (v == null || v.isBlank()) {
            return unset;
        }
        try {
            int d = Integer.parseInt(v.trim());
            if (d >= 1 && d <= max) {
                return d;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + name + " must be 1 to " + max + ", got '" + v + "'");
    }

    /** Whether {@link #matvec} takes this block type, dtype and input width. */
    public static boolean supportsMatvec(GgmlType type, ScalarType dtype, long inFeatures) {
        return TYPES.contains(type)
                && type.isQuantized()
                && outCode(dtype) >= 0
                && inFeatures % type.blockSize() == 0
                && inFeatures <= Integer.MAX_VALUE;
    }

    /**
     * {@code x @ W^T + bias} for a few rows of {@code x}, reading the packed weight once: each
     * block is decoded as {@link #dequantize} decodes it, rounded to x's dtype (the weight's value
     * on the expand-then-GEMM path), multiplied and summed in float32 in one kernel. Against that
     * path only the float32 summation order differs (and the bias is added before the one rounding).
     *
     * @param raw          the packed {@code [out, in]} weight: contiguous uint8 on this device,
     *                     {@code type.byteSize(out * in)} bytes, 16-byte aligned
     * @param x            {@code [..., in]} with at most {@link #MATVEC_MAX_ROWS} rows in all
     * @param bias         {@code [out]} in x's dtype, or null
     * @return {@code [..., out]} in x's dtype
     * @throws IllegalArgumentException if {@link #supportsMatvec} says no, or shapes, dtypes or
     *     devices do not fit
     */
    public Tensor matvec(
            Tensor raw,
            GgmlType type,
            long out,
            long in,
            Tensor x,
            @Nullable Tensor bias,
            DequantArithmetic arithmetic) {
        return matvec(raw, type, out, in, x, bias, arithmetic, matvecDepth());
    }

    /**
     * {@link #matvec(Tensor, GgmlType, long, long, Tensor, Tensor, DequantArithmetic)} with an
     * explicit staging depth (256-weight chunks each warp copies per round, all loads issued
     * before any is used): the result is the same at every depth, the speed is not (tests and
     * {@code OpBenchmark} compare them).
     *
     * @param depth 1 to {@link #MATVEC_MAX_DEPTH}
     */
    public Tensor matvec(
            Tensor raw,
            GgmlType type,
            long out,
            long in,
            Tensor x,
            @Nullable Tensor bias,
            DequantArithmetic arithmetic,
            int depth) {
        if (depth < 1 || depth > MATVEC_MAX_DEPTH) {
            throw new IllegalArgumentException("matvec depth must be 1 to " + MATVEC_MAX_DEPTH + ", got " + depth);
        }
        checkDevice(raw, "raw");
        checkDevice(x, "x");
        int t = sameDtype(x);
        ScalarType dtype = Torch.dtype(x);
        if (!supportsMatvec(type, dtype, in) || out <= 0 || out > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "no fused matvec for " + type + " [" + out + ", " + in + "] in " + dtype);
        }
        if (x.dim() < 1 || x.size(-1) != in) {
            throw new IllegalArgumentException("x must be [..., " + in + "], got " + Arrays.toString(shape(x)));
        }
        long rows = x.numel() / in;
        if (rows > MATVEC_MAX_ROWS) {
            throw new IllegalArgumentException(
                    "x has " + rows + " rows; the fused matvec takes at most " + MATVEC_MAX_ROWS);
        }
        if (Torch.dtype(raw) != ScalarType.Byte || !raw.is_contiguous() || raw.numel() != type.byteSize(out * in)) {
            throw new IllegalArgumentException("raw must be " + type.byteSize(out * in)
                    + " contiguous uint8 bytes for a " + type + " [" + out + ", " + in + "] weight");
        }
        checkAligned(raw, "raw");
        Tensor xc = x.contiguous();
        checkAligned(xc, "x");
        long bAddr = 0;
        if (bias != null) {
            checkDevice(bias, "bias");
            if (Torch.dtype(bias) != dtype || bias.dim() != 1 || bias.size(0) != out) {
                throw new IllegalArgumentException("bias must be [" + out + "] " + dtype + ", got "
                        + Arrays.toString(shape(bias)) + " " + Torch.dtype(bias));
            }
            bias = bias.contiguous();
            bAddr = address(bias);
        }
        long[] ys = shape(x);
        ys[ys.length - 1] = out;
        Tensor y = torch.empty(ys, options(dtype, x), null);
        String name = "matvec_" + type.name() + "_a" + (arithmetic == DequantArithmetic.FLOAT16_LIKE_DIFFUSERS ? 1 : 0)
                + "_t" + t;
        KernelModule.LaunchArgs a = module.args()
                .ptr(address(raw))
                .ptr(address(xc))
                .ptr(bAddr)
                .ptr(address(y))
                .i32((int) out)
                .i32((int) in)
                .i32((int) rows)
                .i32(depth);
        module.launch(name, (out + MATVEC_WARPS - 1) / MATVEC_WARPS, MATVEC_WARPS * 32, 0, stream(x), a);
        return y;
    }

    // ------------------------------------------------------------------------------------ element-wise

    /**
     * {@code LN(x) * (1 + scale[:, None]) + shift[:, None]} in one pass: LayerNorm over the last
     * dimension without affine parameters, then the modulation, rounded as the unfused ops round.
     *
     * @param x     {@code [B, S, D]} (made contiguous if it is not)
     * @param shift {@code [B, D]}, rows may be strided (a chunk of the modulation output)
     * @param scale {@code [B, D]}, the same strides as {@code shift}
     * @return {@code [B, S, D]}, x's dtype
     */
    public Tensor layerNormModulate(Tensor x, Tensor shift, Tensor scale, double eps) {
        return layerNormModulate(x, shift, scale, eps, lnModulateKernel());
    }

    /**
     * {@link #layerNormModulate(Tensor, Tensor, Tensor, double)} with the kernel chosen: {@code PAIR}
     * where {@code S} is even (otherwise {@code ROW}); both give the same bits.
     */
    public Tensor layerNormModulate(Tensor x, Tensor shift, Tensor scale, double eps, LnModulateKernel kernel) {
        checkDevice(x, "x");
        int t = sameDtype(x, shift, scale);
        long[] s = shape(x);
        if (s.length != 3) {
            throw new IllegalArgumentException("x must be [B, S, D], got " + Arrays.toString(s));
        }
        long d = s[2];
        checkModRows("shift", shift, s[0], d);
        checkModRows("scale", scale, s[0], d);
        if (shift.stride(0) != scale.stride(0) || !vectorRows(shift, t) || !vectorRows(scale, t)) {
            scale = scale.contiguous();
            shift = shift.contiguous();
        }
        int vec = vecWidth(t);
        if (d % vec != 0 || d / vec > 1024) {
            throw new IllegalArgumentException(
                    "LayerNorm width " + d + " must be a multiple of " + vec + " and at most " + 1024 * vec);
        }
        Tensor xc = x.contiguous();
        Tensor out = torch.empty(s, options(Torch.dtype(x), x), null);
        checkAligned(xc, "x");
        long rows = s[0] * s[1];
        int threads = (int) ((d / vec + 31) / 32 * 32);
        KernelModule.LaunchArgs a = module.args()
                .ptr(address(xc))
                .ptr(address(shift))
                .ptr(address(scale))
                .ptr(address(out))
                .i32((int) d)
                .i64(s[1])
                .i64(shift.stride(0))
                .f32((float) eps);
        if (kernel != LnModulateKernel.ROW && s[1] % 2 == 0) {
            module.launch("ln_modulate_pair_t" + t, rows / 2, threads, 0, stream(x), a);
        } else {
            module.launch("ln_modulate_t" + t, rows, threads, 0, stream(x), a);
        }
        return out;
    }

    /**
     * Whether {@link #layerNormModulate} and {@link #gatedResidual} take rows of this width and
     * dtype (a multiple of the 16-byte vector: 8 half/bfloat16 or 4 float32 values; at most 1024
     * vectors for the LayerNorm).
     */
    public static boolean supportsWidth(long width, ScalarType dtype) {
        int code = outCode(dtype);
        if (code < 0) {
            return false;
        }
        int vec = vecWidth(code);
        return width % vec == 0 && width / vec <= 1024;
    }

    /**
     * RMSNorm of each head vector (diffusers' {@code RMSNorm} with a weight, statistics in float32)
     * followed by the rotary embedding, written into token rows {@code tokenOffset ..} of
     * {@code out}: the q or k of one stream placed into the joint text+image sequence.
     *
     * @param x      {@code [B, S, H, D]}, head vectors contiguous (tokens may be further apart: q as
     *               a column slice of the fused qkv projection)
     * @param weight {@code [D]}, x's dtype
     * @param cos    float32 {@code [Sout, D]} for the joint positions
     * @param sin    float32 {@code [Sout, D]}
     * @param out    {@code [B, Sout, H, D]} contiguous, x's dtype; rows outside
     *               {@code [tokenOffset, tokenOffset + S)} are left as they are
     */
    public void rmsNormRope(Tensor x, Tensor weight, Tensor cos, Tensor sin, Tensor out, long tokenOffset, double eps) {
        rmsNormRope(x, weight, cos, sin, out, tokenOffset, eps, rmsRopeVectors());
    }

    /**
     * {@link #rmsNormRope(Tensor, Tensor, Tensor, Tensor, Tensor, long, double)} with the kernel
     * chosen: {@code vectors} takes the 16-byte-vector kernel where the input allows it (16-bit
     * storage, head dim 8 times a power of two up to 256, 16-byte aligned rows), the per-warp one
     * otherwise; the two differ only in the order of the float32 sum of squares.
     */
    public void rmsNormRope(
            Tensor x,
            Tensor weight,
            Tensor cos,
            Tensor sin,
            Tensor out,
            long tokenOffset,
            double eps,
            boolean vectors) {
        checkDevice(x, "x");
        int t = sameDtype(x, weight, out);
        long[] s = shape(x);
        long[] o = shape(out);
        if (s.length != 4
                || o.length != 4
                || o[0] != s[0]
                || o[2] != s[2]
                || o[3] != s[3]
                || tokenOffset < 0
                || tokenOffset + s[1] > o[1]) {
            throw new IllegalArgumentException("x " + Arrays.toString(s) + " does not fit at token " + tokenOffset
                    + " of out " + Arrays.toString(o));
        }
        long d = s[3];
        if (d % 2 != 0 || d > 256) {
            throw new IllegalArgumentException("head dim must be even and at most 256, got " + d);
        }
        if (x.stride(3) != 1 || x.stride(2) != d || x.stride(0) != s[1] * x.stride(1) || !out.is_contiguous()) {
            throw new IllegalArgumentException("x must have contiguous head vectors [.., H, D] (a column slice of the "
                    + "projection is fine) and out must be contiguous");
        }
        for (Tensor table : new Tensor[] {cos, sin}) {
            if (Torch.dtype(table) != ScalarType.Float
                    || table.dim() != 2
                    || table.size(0) != o[1]
                    || table.size(1) != d
                    || !table.is_contiguous()) {
                throw new IllegalArgumentException("RoPE tables must be contiguous float32 [" + o[1] + ", " + d
                        + "], got " + Torch.dtype(table) + " " + Arrays.toString(shape(table)));
            }
        }
        if (weight.numel() != d) {
            throw new IllegalArgumentException("weight must have " + d + " values, got " + weight.numel());
        }
        Tensor w = weight.contiguous();
        long rows = s[0] * s[1] * s[2];
        long lanesPerRow = d / 8;
        boolean vec = t != 0
                && vectors
                && d % 8 == 0
                && Long.bitCount(lanesPerRow) == 1
                && lanesPerRow <= 32
                && x.stride(1) % 8 == 0
                && x.stride(0) % 8 == 0
                && address(x) % 16 == 0
                && address(w) % 16 == 0
                && address(out) % 16 == 0
                && address(cos) % 16 == 0
                && address(sin) % 16 == 0;
        // both kernels take the same arguments; a CTA of THREADS threads does one row per warp, or
        // RRV_ROWS rows per group of D / 8 lanes
        long rowsPerBlock = vec ? THREADS / lanesPerRow * RRV_ROWS : THREADS / 32;
        KernelModule.LaunchArgs a = module.args()
                .ptr(address(x))
                .ptr(address(w))
                .ptr(address(cos))
                .ptr(address(sin))
                .ptr(address(out))
                .i64(rows)
                .i32((int) s[1])
                .i32((int) s[2])
                .i32((int) d)
                .i32((int) o[1])
                .i32((int) tokenOffset)
                .f32((float) eps)
                .i64(x.stride(1))
                .i64(x.stride(0));
        module.launch(
                (vec ? "rms_rope_vec_t" : "rms_rope_t") + t,
                (rows + rowsPerBlock - 1) / rowsPerBlock,
                THREADS,
                0,
                stream(x),
                a);
    }

    /**
     * {@code x + gate[:, None] * y} in one pass, each product rounded as the unfused ops round.
     *
     * @param x    {@code [B, S, D]}
     * @param gate {@code [B, D]}, rows may be strided
     * @param y    {@code [B, S, D]}
     * @return a new {@code [B, S, D]} tensor
     */
    public Tensor gatedResidual(Tensor x, Tensor gate, Tensor y) {
        checkDevice(x, "x");
        int t = sameDtype(x, gate, y);
        long[] s = shape(x);
        if (s.length != 3 || !Arrays.equals(s, shape(y))) {
            throw new IllegalArgumentException(
                    "x and y must both be [B, S, D], got " + Arrays.toString(s) + " and " + Arrays.toString(shape(y)));
        }
        int vec = vecWidth(t);
        if (s[2] % vec != 0) {
            throw new IllegalArgumentException("width must be a multiple of " + vec + ", got " + s[2]);
        }
        checkModRows("gate", gate, s[0], s[2]);
        if (!vectorRows(gate, t)) {
            gate = gate.contiguous();
        }
        Tensor xc = x.contiguous();
        Tensor yc = y.contiguous();
        checkAligned(xc, "x");
        checkAligned(yc, "y");
        Tensor out = torch.empty(s, options(Torch.dtype(x), x), null);
        long vectors = xc.numel() / vec;
        KernelModule.LaunchArgs a = module.args()
                .ptr(address(xc))
                .ptr(address(gate))
                .ptr(address(yc))
                .ptr(address(out))
                .i64(vectors)
                .i32((int) s[2])
                .i64(s[1])
                .i64(gate.stride(0));
        module.launch("gated_residual_t" + t, (vectors + THREADS - 1) / THREADS, THREADS, 0, stream(x), a);
        return out;
    }

    // ------------------------------------------------------------------------------------ helpers

    /** Values per 16-byte vector for dtype code {@code t}. */
    private static int vecWidth(int t) {
        return t == 0 ? 4 : 8;
    }

    /** Whether rows of a [B, D] view start on 16-byte boundaries (vector loads). */
    private static boolean vectorRows(Tensor m, int t) {
        return address(m) % 16 == 0 && m.stride(0) % vecWidth(t) == 0;
    }

    private static void checkAligned(Tensor t, String what) {
        if (address(t) % 16 != 0) {
            throw new IllegalArgumentException(what + " does not start on a 16-byte boundary");
        }
    }

    private static int outCode(ScalarType t) {
        ScalarType i = t.intern();
        if (i == ScalarType.Float) {
            return 0;
        }
        if (i == ScalarType.Half) {
            return 1;
        }
        if (i == ScalarType.BFloat16) {
            return 2;
        }
        return -1;
    }

    private static int sameDtype(Tensor first, Tensor... others) {
        ScalarType t = Torch.dtype(first);
        int code = outCode(t);
        if (code < 0) {
            throw new IllegalArgumentException("dtype must be Float, Half or BFloat16, got " + t);
        }
        for (Tensor o : others) {
            if (Torch.dtype(o) != t) {
                throw new IllegalArgumentException("dtypes differ: " + t + " and " + Torch.dtype(o));
            }
        }
        return code;
    }

    private void checkDevice(Tensor t, String what) {
        if (!t.is_cuda() || t.device().index() != module.device()) {
            throw new IllegalArgumentException(what + " must be on cuda:" + module.device() + ", got "
                    + t.device().str().getString());
        }
    }

    private static void checkModRows(String what, Tensor m, long batch, long width) {
        if (m.dim() != 2 || m.size(0) != batch || m.size(1) != width || m.stride(1) != 1) {
            throw new IllegalArgumentException(what + " must be [" + batch + ", " + width
                    + "] with unit column stride, got " + Arrays.toString(shape(m)));
        }
    }

    private static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }

    private static long address(Tensor t) {
        return t.data_ptr().address();
    }

    private static TensorOptions options(ScalarType dtype, Tensor like) {
        return new TensorOptions(dtype).device(new DeviceOptional(like.device()));
    }

    private CUstream_st stream(Tensor t) {
        CUDAStream s = torch_cuda.getCurrentCUDAStream((byte) module.device());
        return s.stream();
    }
}
