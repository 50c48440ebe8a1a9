package io.github.flux4j.core.nn;

import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code conv2d} (stride 1, dilation 1, one group, square kernel, bias) that is right on every
 * x86-64 CPU, whatever oneDNN kernel LibTorch would pick there.
 *
 * <p>LibTorch 2.10's bundled oneDNN 3.7.1 computes some CPU convolutions wrongly on some AVX-512
 * CPUs (seen on an AMD EPYC with {@code avx512_bf16}; not on an Intel Xeon with AMX, nor with
 * AVX2): float32 with an input channel count that is not a multiple of 16, bfloat16 with such an
 * output (or input) channel count, among them FLUX's VAE {@code conv_out} (128 to 3) in bfloat16.
 * See {@code docs/cpu.md}. So on CPU, each convolution <em>signature</em> (dtype, channels, kernel,
 * padding) is checked once per process: a small deterministic input goes through oneDNN
 * ({@code at::mkldnn_convolution}, which is what {@code at::conv2d} calls whenever its size
 * heuristic picks oneDNN) and through {@code at::conv2d} as called, and both are compared with a
 * float64 convolution of the same dtype-rounded numbers (float64 never runs in oneDNN). A
 * signature that passes runs {@code at::conv2d} as before; one that fails runs
 * {@link #gemmConv2d}, which never calls oneDNN. The verdicts are cached; each is logged once (an
 * INFO line for a rerouted signature, DEBUG otherwise). CUDA tensors go straight to
 * {@code at::conv2d}.
 *
 * <p>Thread-safe. Results belong to the caller's enclosing {@link PointerScope}.
 */
public final class CpuConvolutions {
    private static final Logger LOG = LoggerFactory.getLogger(CpuConvolutions.class);
    private static final long[] ONES = {1, 1};

    /**
     * The largest relative error (per output channel, L2) that still counts as right. A correct
     * float32 kernel is about 2e-7 off the float64 result at these sizes, a correct bf16 or f16
     * one about 2e-3 (one rounding of the output); the faulty oneDNN kernels are 0.1 to 0.7 off.
     */
    static final double F32_TOLERANCE = 1e-4;
    /** See {@link #F32_TOLERANCE}: bf16 and f16 (8 and 11 significant bits). */
    static final double HALF_TOLERANCE = 1e-2;
    /** Probe input height and width: not multiples of 16 or of the kernels' width blocks. */
    static final long PROBE_HEIGHT = 7;

    static final long PROBE_WIDTH = 13;
    /**
     * {@link #gemmConv2d} works through the image in row bands so that neither its float32 copy of
     * the input band nor its product matrix exceeds about this many elements (16 MiB each): small
     * enough to stay in the allocator's reused memory instead of fresh, page-faulting mappings.
     */
    static final long GEMM_BAND_ELEMENTS = 4L << 20;

    private static final ConcurrentHashMap<Signature, Verdict> VERDICTS = new ConcurrentHashMap<>();

    private CpuConvolutions() {}

    /**
     * A CPU convolution's shape class: what oneDNN's choice of kernel and layout depends on, apart
     * from the image size.
     *
     * @param dtype the input's (and weight's) scalar type
     * @param inChannels input channels
     * @param outChannels output channels
     * @param kernel square kernel size
     * @param padding zero padding on each side
     */
    public record Signature(ScalarType dtype, long inChannels, long outChannels, int kernel, int padding) {
        /** Validates the numbers and interns {@code dtype} (JavaCPP returns fresh enum objects). */
        public Signature {
            dtype = dtype.intern();
            if (inChannels < 1 || outChannels < 1 || kernel < 1 || padding < 0) {
                throw new IllegalArgumentException("conv2d signature needs inChannels, outChannels, kernel >= 1 "
                        + "and padding >= 0, got " + inChannels + ", " + outChannels + ", " + kernel + ", " + padding);
            }
        }

        @Override
        public String toString() {
            return dtype + " " + inChannels + "->" + outChannels + " " + kernel + "x" + kernel + " pad " + padding;
        }
    }

    /**
     * The start-up check of one signature.
     *
     * @param signature the signature checked
     * @param useLibTorch whether {@link #conv2d} calls {@code at::conv2d} for it (otherwise
     *        {@link #gemmConv2d})
     * @param oneDnnError relative error of {@code at::mkldnn_convolution} against float64, or NaN
     *        where this LibTorch cannot run oneDNN for the dtype (then {@code at::conv2d} does not
     *        either)
     * @param conv2dError relative error of {@code at::conv2d} against float64 at the probe size
     * @param tolerance the bound both errors were held to
     */
    public record Verdict(
            Signature signature, boolean useLibTorch, double oneDnnError, double conv2dError, double tolerance) {
        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "%s: %s (oneDNN %.2e, at::conv2d %.2e, bound %.0e)",
                    signature,
                    useLibTorch ? "LibTorch conv2d" : "float32 GEMM convolution",
                    oneDnnError,
                    conv2dError,
                    tolerance);
        }
    }

    /**
     * {@code at::conv2d(x, weight, bias, stride 1, padding, dilation 1, groups 1)}, through
     * {@link #gemmConv2d} instead on CPU when this signature's check failed.
     *
     * @param x {@code [B, in, H, W]}
     * @param weight {@code [out, in, k, k]}, same dtype and device as {@code x}
     * @param bias {@code [out]}
     * @param padding zero padding on each side
     * @return {@code [B, out, H + 2p - k + 1, W + 2p - k + 1]} in {@code x}'s dtype
     * @throws IllegalArgumentException if the shapes or dtypes do not fit together
     */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int padding) {
        Signature s = checkArguments(x, weight, bias, padding);
        if (!x.is_cpu() || s.dtype() == ScalarType.Double || verdict(s).useLibTorch()) {
            return libTorchConv2d(x, weight, bias, padding);
        }
        return gemmConv2d(x, weight, bias, padding);
    }

    /**
     * The cached check of {@code s} on this machine's CPU, run now if it has not run yet (a few
     * milliseconds for FLUX's largest VAE convolution).
     */
    public static Verdict verdict(Signature s) {
        return VERDICTS.computeIfAbsent(s, CpuConvolutions::check);
    }

    /**
     * The convolution as {@code k * k} shifted matrix products in float32 ({@code at::mm}, which
     * LibTorch runs in its BLAS, never in oneDNN: its bf16 products would), with the bias added in
     * float32 and one rounding to {@code x}'s dtype at the end, as a float32-accumulating kernel
     * does. It works through each image in row bands, so its extra memory stays under about
     * 32 MiB at any image size (more only when one padded input row alone is larger). Any device;
     * {@link #conv2d} uses it on CPU only.
     *
     * @see #conv2d
     */
    public static Tensor gemmConv2d(Tensor x, Tensor weight, Tensor bias, int padding) {
        checkArguments(x, weight, bias, padding);
        return gemmConv2d(x, weight, bias, padding, GEMM_BAND_ELEMENTS);
    }

    /** {@link #gemmConv2d(Tensor, Tensor, Tensor, int)} with a band size bound (tests: small bands). */
    static Tensor gemmConv2d(Tensor x, Tensor weight, Tensor bias, int padding, long bandElements) {
        return Scopes.scoped(() -> {
            long batch = x.size(0);
            long in = x.size(1);
            long h = x.size(2);
            long w = x.size(3);
            long out = weight.size(0);
            int k = (int) weight.size(2);
            long outH = h + 2L * padding - k + 1;
            long outW = w + 2L * padding - k + 1;
            long paddedW = w + 2L * padding;
            Tensor y = torch.empty(
                    new long[] {batch, out, outH, outW},
                    new TensorOptions(Torch.dtype(x)).device(new DeviceOptional(x.device())),
                    null);
            if (outH <= 0 || outW <= 0) {
                return y;
            }
            // Weight rows grouped by tap: row (i*k + j)*out + o holds weight[o, :, i, j].
            Tensor taps = weight.to(ScalarType.Float).permute(2, 3, 0, 1).reshape(k * k * out, in);
            Tensor bias32 = bias.to(ScalarType.Float).reshape(out, 1, 1);
            // A band of R output rows reads R + k - 1 padded input rows.
            long perRow = Math.max(k * k * out, in) * paddedW;
            long band = Math.max(1, Math.min(outH, bandElements / perRow - (k - 1)));
            // One zeroed float32 slab for all bands: its padding columns stay zero, the input rows
            // are converted into it in place (no separate float32 copy and padded copy).
            Tensor slab = torch.zeros(
                    new long[] {in, band + k - 1, paddedW},
                    new TensorOptions(ScalarType.Float).device(new DeviceOptional(x.device())));
            for (long b = 0; b < batch; b++) {
                Tensor image = x.select(0, b);
                for (long r0 = 0; r0 < outH; r0 += band) {
                    long rows = Math.min(band, outH - r0);
                    long slabRows = rows + k - 1;
                    try (PointerScope scope = new PointerScope()) {
                        // Input rows r0 - p .. r0 + rows + k - 2 - p; those outside the image are zeros.
                        long first = r0 - padding;
                        long last = first + slabRows; // exclusive
                        long lo = Math.max(0, first);
                        long hi = Math.min(h, last);
                        Tensor rowsView = slab.narrow(1, 0, slabRows);
                        if (lo > first) {
                            rowsView.narrow(1, 0, Math.min(lo, last) - first).zero_();
                        }
                        if (hi < last) {
                            long from = Math.max(hi, first);
                            rowsView.narrow(1, from - first, last - from).zero_();
                        }
                        if (hi > lo) {
                            rowsView.narrow(1, lo - first, hi - lo)
                                    .narrow(2, padding, w)
                                    .copy_(image.narrow(1, lo, hi - lo));
                        }
                        Tensor products = torch.mm(taps, rowsView.reshape(in, slabRows * paddedW))
                                .view(k, k, out, slabRows, paddedW);
                        Tensor acc = bias32.expand(out, rows, outW).clone();
                        for (int i = 0; i < k; i++) {
                            for (int j = 0; j < k; j++) {
                                acc.add_(products.select(0, i)
                                        .select(0, j)
                                        .narrow(1, i, rows)
                                        .narrow(2, j, outW));
                            }
                        }
                        y.select(0, b).narrow(1, r0, rows).copy_(acc);
                    }
                }
            }
            return y;
        });
    }

    private static Tensor libTorchConv2d(Tensor x, Tensor weight, Tensor bias, int padding) {
        return torch.conv2d(x, weight, new TensorOptional(bias), ONES, new long[] {padding, padding}, ONES, 1);
    }

    private static Signature checkArguments(Tensor x, Tensor weight, Tensor bias, int padding) {
        if (x.isNull() || weight.isNull() || bias.isNull()) {
            throw new IllegalArgumentException("conv2d: a tensor is freed (null)");
        }
        if (x.dim() != 4
                || weight.dim() != 4
                || weight.size(2) != weight.size(3)
                || weight.size(1) != x.size(1)
                || bias.dim() != 1
                || bias.size(0) != weight.size(0)) {
            throw new IllegalArgumentException("conv2d: input " + LinearChecks.shape(x) + ", weight "
                    + LinearChecks.shape(weight) + " and bias " + LinearChecks.shape(bias)
                    + " do not fit [B, in, H, W], [out, in, k, k], [out]");
        }
        ScalarType dtype = Torch.dtype(x);
        if (Torch.dtype(weight) != dtype || Torch.dtype(bias) != dtype) {
            throw new IllegalArgumentException("conv2d: input dtype " + dtype + " differs from the weight's "
                    + Torch.dtype(weight) + " or the bias's " + Torch.dtype(bias));
        }
        if (padding < 0) {
            throw new IllegalArgumentException("conv2d: padding must be >= 0, got " + padding);
        }
        return new Signature(dtype, x.size(1), weight.size(0), (int) weight.size(2), padding);
    }

    private static Verdict check(Signature s) {
        double tolerance = s.dtype() == ScalarType.Float ? F32_TOLERANCE : HALF_TOLERANCE;
        double oneDnn;
        double direct;
        long started = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
            // Deterministic quasi-random data (no generator is consumed, so the caller's random
            // numbers stay as they were; built in LibTorch, which is much faster than from Java).
            long h = PROBE_HEIGHT + 2L * Math.max(0, s.kernel() - 1 - 2 * s.padding());
            long w = PROBE_WIDTH + 2L * Math.max(0, s.kernel() - 1 - 2 * s.padding());
            double weightScale = 1.0 / Math.sqrt((double) s.inChannels() * s.kernel() * s.kernel());
            Tensor x = quasiRandom(0.7548776662466927, 1.0, s.dtype(), 1, s.inChannels(), h, w);
            Tensor weight = quasiRandom(
                    0.5698402909980532,
                    weightScale,
                    s.dtype(),
                    s.outChannels(),
                    s.inChannels(),
                    s.kernel(),
                    s.kernel());
            Tensor bias = quasiRandom(0.6180339887498949, 0.5, s.dtype(), s.outChannels());
            Tensor reference = libTorchConv2d(
                    x.to(ScalarType.Double), weight.to(ScalarType.Double), bias.to(ScalarType.Double), s.padding());
            oneDnn = Double.NaN;
            if (torch.hasMKLDNN()) {
                Tensor y = null;
                try {
                    y = torch.mkldnn_convolution(
                            x, weight, new TensorOptional(bias), new long[] {s.padding(), s.padding()}, ONES, ONES, 1);
                } catch (RuntimeException e) {
                    // This CPU or build has no oneDNN kernel for the dtype (e.g. bf16 without
                    // AVX-512 BW/VL/DQ); at::conv2d then does not call oneDNN either.
                    LOG.debug("conv2d {}: oneDNN not usable here ({})", s, e.getMessage());
                }
                if (y != null) {
                    oneDnn = channelError(y, reference);
                }
            }
            direct = channelError(libTorchConv2d(x, weight, bias, s.padding()), reference);
        }
        boolean ok = direct <= tolerance && (Double.isNaN(oneDnn) || oneDnn <= tolerance);
        Verdict v = new Verdict(s, ok, oneDnn, direct, tolerance);
        double millis = (System.nanoTime() - started) / 1e6;
        if (ok) {
            LOG.debug("CPU conv2d checked in {} ms: {}", String.format(Locale.ROOT, "%.1f", millis), v);
        } else {
            LOG.info(
                    "CPU conv2d {} is wrong in this LibTorch's oneDNN on this CPU; using a float32 GEMM "
                            + "convolution for it instead (checked in {} ms: {})",
                    s,
                    String.format(Locale.ROOT, "%.1f", millis),
                    v);
        }
        return v;
    }

    /**
     * {@code scale * (2 * frac(0.5 + i * alpha) - 1)} for i = 0, 1, ..., in {@code shape}, rounded to
     * {@code dtype}: an additive recurrence with an irrational step, evenly spread over
     * [-scale, scale) with no period in the tensor.
     */
    private static Tensor quasiRandom(double alpha, double scale, ScalarType dtype, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        Tensor i = torch.arange(new Scalar(n), new TensorOptions(ScalarType.Double));
        return i.mul(new Scalar(alpha))
                .add(new Scalar(0.5))
                .frac()
                .mul(new Scalar(2 * scale))
                .sub(new Scalar(scale))
                .reshape(shape)
                .to(dtype);
    }

    /**
     * The largest per-output-channel relative L2 error of {@code y} against the float64
     * {@code reference} ({@code [B, C, H, W]}), infinite if {@code y} has a NaN. Per channel, so
     * that one wrong channel among hundreds is not averaged away.
     */
    static double channelError(Tensor y, Tensor reference) {
        try (PointerScope scope = new PointerScope()) {
            Tensor d = y.to(ScalarType.Double).sub(reference);
            Tensor num = d.mul(d).sum(0, 2, 3);
            Tensor den = reference.mul(reference).sum(0, 2, 3);
            double e = num.div(den).sqrt().amax().item_double();
            return Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
        }
    }

    /** Forgets every verdict (tests). */
    static void clearVerdicts() {
        VERDICTS.clear();
    }
}
