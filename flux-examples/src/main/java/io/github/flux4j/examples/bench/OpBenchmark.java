package io.github.flux4j.examples.bench;

import io.github.flux4j.core.cuda.CudaKernels;
import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.cuda.CUDAEvent;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Where a FLUX.1-dev step's GPU time goes: every operation of the double- and single-stream
 * blocks at the shapes of one image size, timed alone with CUDA events (median of the repeats),
 * multiplied by how often one forward runs it. GEMMs use dense bf16 weights; the GGUF
 * dequantization of all block weights is one extra line. The sum is a floor for the forward
 * (launch gaps and the few ops outside the blocks are not in it): compare it with
 * {@code TransformerBenchmark}'s step time to see what is left between ops.
 */
@Command(
        name = "op-benchmark",
        mixinStandardHelpOptions = true,
        description = "Times each FLUX block operation on the GPU (CUDA events) and sums them per step.")
public final class OpBenchmark implements Callable<Integer> {
    @Option(names = "--size", description = "WIDTHxHEIGHT (default 1024x1024).", defaultValue = "1024x1024")
    private String size = "1024x1024";

    @Option(names = "--reps", description = "Timed repeats per op (default 20).", defaultValue = "20")
    private int reps = 20;

    private record Row(String op, String where, int perStep, double ms) {
        double total() {
            return perStep * ms;
        }
    }

    private final List<Row> rows = new ArrayList<>();

    public static void main(String[] args) {
        System.exit(new CommandLine(new OpBenchmark()).execute(args));
    }

    @Override
    public Integer call() {
        FluxDevice dev = FluxDevice.cuda(0);
        if (!FluxDevice.cudaAvailable()) {
            System.err.println("op-benchmark needs a CUDA device");
            return 1;
        }
        String[] wh = size.toLowerCase(Locale.ROOT).split("x");
        long img = (Long.parseLong(wh[0]) / 16) * (Long.parseLong(wh[1]) / 16);
        long txt = 512;
        long all = img + txt;
        long h = 3072;
        long mlp = 12288;
        long heads = 24;
        int dbl = 19;
        int sgl = 38;
        Torch.preferCudnnAttention(dev);
        try (InferenceMode im = new InferenceMode();
                PointerScope scope = new PointerScope()) {
            TensorOptions bf = new TensorOptions(ScalarType.BFloat16).device(new DeviceOptional(dev.toTorch()));
            CudaKernels k = CudaKernels.forDevice(0).orElseThrow();
            System.out.println("kernels: " + k.description());
            Tensor xAll = torch.randn(new long[] {1, all, h}, bf);
            Tensor xImg = torch.randn(new long[] {1, img, h}, bf);
            Tensor xTxt = torch.randn(new long[] {1, txt, h}, bf);
            Tensor mod = torch.randn(new long[] {1, 6 * h}, bf);
            Tensor wHH = torch.randn(new long[] {h, h}, bf).mul(new Scalar(0.02));
            Tensor bH = torch.randn(new long[] {h}, bf);
            Tensor wMlp0 = torch.randn(new long[] {mlp, h}, bf).mul(new Scalar(0.02));
            Tensor bMlp = torch.randn(new long[] {mlp}, bf);
            Tensor wMlp2 = torch.randn(new long[] {h, mlp}, bf).mul(new Scalar(0.02));
            Tensor wQkv = torch.randn(new long[] {3 * h, h}, bf).mul(new Scalar(0.02));
            Tensor bQkv = torch.randn(new long[] {3 * h}, bf);
            Tensor wL1 = torch.randn(new long[] {3 * h + mlp, h}, bf).mul(new Scalar(0.02));
            Tensor bL1 = torch.randn(new long[] {3 * h + mlp}, bf);
            Tensor wL2 = torch.randn(new long[] {h, h + mlp}, bf).mul(new Scalar(0.02));
            Tensor wMod = torch.randn(new long[] {6 * h, h}, bf).mul(new Scalar(0.02));
            Tensor vec = torch.randn(new long[] {1, h}, bf);
            Tensor shift = mod.narrow(1, 0, h);
            Tensor scale = mod.narrow(1, h, h);
            Tensor q = torch.randn(new long[] {1, all, heads, 128}, bf);
            // rms_rope's input as the model has it: a column slice of the fused qkv projection
            Tensor qSlice =
                    torch.randn(new long[] {1, all, 3 * h}, bf).narrow(-1, 0, h).unflatten(-1, heads, 128);
            Tensor kk = torch.randn(new long[] {1, all, heads, 128}, bf);
            Tensor v = torch.randn(new long[] {1, all, heads, 128}, bf);
            Tensor w128 = torch.ones(new long[] {128}, bf);
            TensorOptions f32 = new TensorOptions(ScalarType.Float).device(new DeviceOptional(dev.toTorch()));
            Tensor cos = torch.randn(new long[] {all, 128}, f32).cos();
            Tensor sin = torch.randn(new long[] {all, 128}, f32).sin();
            Tensor qOut = torch.empty(new long[] {1, all, heads, 128}, bf, null);
            Tensor big = torch.randn(new long[] {1, all, mlp}, bf);
            Tensor attnOut = torch.randn(new long[] {1, all, h}, bf);

            // GEMMs, per their count in one forward (double: img + txt streams; single: the joint one),
            // as the model runs them with the current switches; the alternatives are timed with count 0
            boolean epilogue = CudaKernels.geluEpilogue();
            boolean split = CudaKernels.splitSingleLinears();
            time(
                    "linear qkv fused (h->3h)",
                    "double img",
                    dbl,
                    () -> torch.linear(xImg, wQkv, new TensorOptional(bQkv)));
            time(
                    "linear qkv fused (h->3h)",
                    "double txt",
                    dbl,
                    () -> torch.linear(xTxt, wQkv, new TensorOptional(bQkv)));
            time("linear proj h->h", "double img", dbl, () -> torch.linear(xImg, wHH, new TensorOptional(bH)));
            time("linear proj h->h", "double txt", dbl, () -> torch.linear(xTxt, wHH, new TensorOptional(bH)));
            // Functional.linearGeluTanh: the GELU in cuBLASLt's epilogue, or GEMM then the GELU row below
            time(
                    "linear mlp0 h->4h" + (epilogue ? " + GELU epilogue" : ""),
                    "double img",
                    dbl,
                    () -> Functional.linearGeluTanh(xImg, wMlp0, bMlp));
            time(
                    "linear mlp0 h->4h" + (epilogue ? " + GELU epilogue" : ""),
                    "double txt",
                    dbl,
                    () -> Functional.linearGeluTanh(xTxt, wMlp0, bMlp));
            time("linear mlp0 h->4h, no GELU", "(alt)", 0, () -> torch.linear(xImg, wMlp0, new TensorOptional(bMlp)));
            Tensor bigImg = big.narrow(1, 0, img).contiguous();
            Tensor bigTxt = big.narrow(1, 0, txt).contiguous();
            time("linear mlp2 4h->h", "double img", dbl, () -> torch.linear(bigImg, wMlp2, new TensorOptional(bH)));
            time("linear mlp2 4h->h", "double txt", dbl, () -> torch.linear(bigTxt, wMlp2, new TensorOptional(bH)));
            // single blocks: linear1 as [q|k|v] + [mlp (GELU)] and linear2 over the two parts (split),
            // or one 7h-wide GEMM and linear2 over the concatenation
            Tensor bQkvL1 = bL1.narrow(0, 0, 3 * h);
            Tensor bMlpL1 = bL1.narrow(0, 3 * h, mlp);
            time(
                    "linear1 split: qkv h->3h",
                    split ? "single" : "(alt)",
                    split ? sgl : 0,
                    () -> torch.linear(xAll, wL1.narrow(0, 0, 3 * h), new TensorOptional(bQkvL1)));
            time(
                    "linear1 split: mlp h->4h" + (epilogue ? " + GELU epilogue" : ""),
                    split ? "single" : "(alt)",
                    split ? sgl : 0,
                    () -> Functional.linearGeluTanh(xAll, wL1.narrow(0, 3 * h, mlp), bMlpL1));
            time(
                    "linear1 fused (h->7h)",
                    split ? "(alt)" : "single",
                    split ? 0 : sgl,
                    () -> torch.linear(xAll, wL1, new TensorOptional(bL1)));
            time(
                    "linear2 joined (h->h + 4h->h, one output)",
                    split ? "single" : "(alt)",
                    split ? sgl : 0,
                    () -> Functional.linearJoined(new Tensor[] {attnOut, big}, wL2, bH));
            Tensor catIn = torch.randn(new long[] {1, all, h + mlp}, bf);
            time(
                    "linear2 5h->h over the concatenation",
                    split ? "(alt)" : "single",
                    split ? 0 : sgl,
                    () -> torch.linear(catIn, wL2, new TensorOptional(bH)));
            time(
                    "modulation GEMV h->6h (dense bf16)",
                    "(cached path)",
                    0,
                    () -> torch.linear(torch.silu(vec), wMod, new TensorOptional()));
            // the fast path: packed Q8_0 blocks read once by the fused dequantization + matvec kernel
            Tensor rawMod = torch.randint(
                    0,
                    256,
                    new long[] {GgmlType.Q8_0.byteSize(6 * h * h)},
                    new TensorOptions(ScalarType.Byte).device(new DeviceOptional(dev.toTorch())));
            time(
                    "modulation matvec Q8_0 fused h->6h, depth " + CudaKernels.matvecDepth(),
                    "double x2",
                    2 * dbl,
                    () -> k.matvec(rawMod, GgmlType.Q8_0, 6 * h, h, vec, null, DequantArithmetic.EXACT_FLOAT32));
            // the other staging depths (chunks each warp copies per round): same bits, the speed measured here
            for (int d : otherThan(CudaKernels.matvecDepth(), CudaKernels.MATVEC_MAX_DEPTH)) {
                time(
                        "modulation matvec Q8_0 fused h->6h, depth " + d,
                        "(alt depth)",
                        0,
                        () -> k.matvec(rawMod, GgmlType.Q8_0, 6 * h, h, vec, null, DequantArithmetic.EXACT_FLOAT32, d));
            }
            time(
                    "modulation matvec Q8_0 fused h->3h",
                    "single",
                    sgl,
                    () -> k.matvec(
                            rawMod.narrow(0, 0, GgmlType.Q8_0.byteSize(3 * h * h)),
                            GgmlType.Q8_0,
                            3 * h,
                            h,
                            vec,
                            null,
                            DequantArithmetic.EXACT_FLOAT32));
            time(
                    "modulation dequant+GEMV Q8_0 h->6h",
                    "(unfused alt)",
                    0,
                    () -> torch.linear(
                            vec,
                            k.dequantize(
                                    rawMod,
                                    GgmlType.Q8_0,
                                    new long[] {6 * h, h},
                                    ScalarType.BFloat16,
                                    DequantArithmetic.EXACT_FLOAT32),
                            new TensorOptional()));
            time(
                    "sdpa (cuDNN first)",
                    "all blocks",
                    dbl + sgl,
                    () -> torch.scaled_dot_product_attention(
                                    q.permute(0, 2, 1, 3),
                                    kk.permute(0, 2, 1, 3),
                                    v.permute(0, 2, 1, 3),
                                    new TensorOptional(),
                                    0.0,
                                    false,
                                    new DoubleOptional(),
                                    false)
                            .permute(0, 2, 1, 3)
                            .flatten(2, 3));
            // element-wise: fused kernels and the LibTorch chains they replace
            CudaKernels.LnModulateKernel ln = CudaKernels.lnModulateKernel();
            for (CudaKernels.LnModulateKernel kind : CudaKernels.LnModulateKernel.values()) {
                // every launch shape; the one in use counts toward the step
                time(
                        "ln+modulate kernel, " + kind.name().toLowerCase(Locale.ROOT),
                        kind == ln ? "img/all" : "(alt)",
                        kind == ln ? 2 * dbl + sgl : 0,
                        () -> k.layerNormModulate(xAll, shift, scale, 1e-6, kind));
            }
            time(
                    "ln+modulate LibTorch chain",
                    "(reference)",
                    0,
                    () -> torch.layer_norm(xAll, new long[] {h}, new TensorOptional(), new TensorOptional(), 1e-6, true)
                            .mul(scale.unsqueeze(1).add(new Scalar(1L)))
                            .add(shift.unsqueeze(1)));
            boolean vectors = CudaKernels.rmsRopeVectors();
            for (boolean vectorKernel : new boolean[] {vectors, !vectors}) {
                time(
                        "rms+rope kernel (q or k), " + (vectorKernel ? "16-byte vectors" : "warp per row"),
                        vectorKernel == vectors ? "all" : "(alt)",
                        vectorKernel == vectors ? 2 * (dbl + sgl) : 0,
                        () -> {
                            k.rmsNormRope(qSlice, w128, cos, sin, qOut, 0, 1e-6, vectorKernel);
                            return qOut;
                        });
            }
            time("gated residual kernel", "all", 2 * dbl + sgl, () -> k.gatedResidual(xAll, shift, attnOut));
            time(
                    "gated residual LibTorch",
                    "(reference)",
                    0,
                    () -> xAll.add(shift.unsqueeze(1).mul(attnOut)));
            // GELU passes of their own: only the single blocks' unsplit linear1 (elsewhere the GELU is
            // in the linearGeluTanh rows above, in the epilogue or right after the GEMM)
            int geluCount = split ? 0 : sgl;
            time("gelu tanh (4h wide)", geluCount > 0 ? "all" : "(alt)", geluCount, () -> torch.gelu(big, "tanh"));
            time(
                    "attention output into the 5h-wide linear2 input",
                    split ? "(alt)" : "single",
                    split ? 0 : sgl,
                    () -> catIn.narrow(2, 0, h).copy_(attnOut));
            time(
                    "cat v (txt|img)",
                    "double",
                    dbl,
                    () -> torch.cat(new TensorVector(v.narrow(1, 0, txt), v.narrow(1, txt, img)), 1));
            // dequantization of the block weights: Q8_0, every forward
            // (the modulation weights are not expanded: the fused matvec rows above)
            long blockParams = dbl * (2 * (4 * h * h) + 2 * (2 * mlp * h)) + sgl * ((3 * h + mlp) * h + (h + mlp) * h);
            long n = 3 * h * h;
            Tensor raw = torch.randint(
                    0,
                    256,
                    new long[] {GgmlType.Q8_0.byteSize(n)},
                    new TensorOptions(ScalarType.Byte).device(new DeviceOptional(dev.toTorch())));
            for (GgmlType t :
                    new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q4_0}) {
                Tensor r = torch.randint(
                        0,
                        256,
                        new long[] {t.byteSize(n)},
                        new TensorOptions(ScalarType.Byte).device(new DeviceOptional(dev.toTorch())));
                // the default tiles per CTA (counted for Q8_0), then, for Q8_0 and Q6_K, the other
                // counts (same bits, the speed measured here)
                int dflt = CudaKernels.dequantTiles();
                int[] others = t == GgmlType.Q8_0 || t == GgmlType.Q6_K
                        ? otherThan(dflt, CudaKernels.DEQUANT_MAX_TILES)
                        : new int[0];
                for (int tl : IntStream.concat(IntStream.of(dflt), IntStream.of(others))
                        .toArray()) {
                    double ms = median(() -> k.dequantize(
                            r, t, new long[] {3 * h, h}, ScalarType.BFloat16, DequantArithmetic.EXACT_FLOAT32, tl));
                    double perParam = ms / n;
                    double gbs = (t.byteSize(n) + 2.0 * n) / (ms / 1e3) / 1e9;
                    boolean counted = t == GgmlType.Q8_0 && tl == dflt;
                    rows.add(new Row(
                            "dequant " + t + " -> bf16, " + tl + " tiles/CTA ("
                                    + String.format(Locale.ROOT, "%.0f GB/s", gbs) + ")",
                            counted ? "all block weights" : tl == dflt ? "(alt type)" : "(alt tiles)",
                            counted ? 1 : 0,
                            perParam * blockParams));
                }
            }
            raw.close();
        }
        double sum = 0;
        System.out.printf(
                Locale.ROOT, "%n| op | where | per step | ms each | ms per step |%n| --- | --- | --- | --- | --- |%n");
        for (Row r : rows) {
            sum += r.total();
            System.out.printf(
                    Locale.ROOT, "| %s | %s | %d | %.3f | %.2f |%n", r.op, r.where, r.perStep, r.ms, r.total());
        }
        System.out.printf(Locale.ROOT, "| **sum** | | | | **%.1f** |%n", sum);
        return 0;
    }

    /** 1 to {@code max} without {@code used}: the tuning values a benchmark compares with the default. */
    private static int[] otherThan(int used, int max) {
        return IntStream.rangeClosed(1, max).filter(v -> v != used).toArray();
    }

    private void time(String op, String where, int perStep, Supplier<Tensor> f) {
        rows.add(new Row(op, where, perStep, median(f)));
    }

    /**
     * GPU milliseconds of one call: {@code BATCH} calls are enqueued between two events, so the
     * queue stays full and the host's per-call overhead (JNI, allocation) is hidden as it is in a
     * forward; the median over {@code reps} such batches, divided by {@code BATCH}.
     */
    private double median(Supplier<Tensor> f) {
        final int batch = 10;
        CUDAEvent start = new CUDAEvent(0); // 0 = cudaEventDefault: timing enabled
        CUDAEvent end = new CUDAEvent(0);
        double[] ms = new double[reps];
        for (int i = -2; i < reps; i++) {
            try (PointerScope s = new PointerScope()) {
                Tensor unusedAhead = f.get(); // keep a call queued ahead of the start event
                start.record();
                for (int j = 0; j < batch; j++) {
                    Tensor unused = f.get(); // freed with the scope
                }
                end.record();
                end.synchronize();
                if (i >= 0) {
                    ms[i] = start.elapsed_time(end) / batch;
                }
            }
        }
        Arrays.sort(ms);
        return ms[reps / 2];
    }
}
