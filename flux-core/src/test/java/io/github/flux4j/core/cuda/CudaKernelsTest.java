package io.github.flux4j.core.cuda;

import static io.github.flux4j.core.cuda.CudaKernels.LnModulateKernel.PAIR;
import static io.github.flux4j.core.cuda.CudaKernels.LnModulateKernel.ROW;
import static io.github.flux4j.core.quant.TensorData.bits;
import static io.github.flux4j.core.quant.TensorData.toFloats;
import static io.github.flux4j.core.quant.TensorData.uint8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.quant.TorchDequantizer;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.quant.Dequantizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * flux4j's CUDA kernels against the reference paths: dequantization bit for bit against
 * flux-gguf's CPU dequantizer (gguf-py's arithmetic) and {@link TorchDequantizer} on the CPU (both
 * arithmetics, every output dtype), on random blocks with edge values; the fused element-wise
 * kernels against the LibTorch op chains they replace. Skipped without a GPU (run on the GPU host).
 */
class CudaKernelsTest {
    private static final FluxDevice GPU = FluxDevice.cuda(0);
    private static final EnumSet<GgmlType> QUANT = EnumSet.of(
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
    /** Byte offsets of each type's float16 scales inside a block. */
    private static int[] halves(GgmlType t) {
        return switch (t) {
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            default -> new int[] {0};
        };
    }
    /** Edge scales: zeros of both signs, ±1, the smallest normal and subnormal, the largest, negatives. */
    private static final short[] EDGE = {
        0x0000,
        (short) 0x8000,
        0x3C00,
        (short) 0xBC00,
        0x0400,
        0x0001,
        (short) 0x8001,
        0x7BFF,
        (short) 0x9920,
        0x2303,
        (short) 0xFBFF
    };

    private static CudaKernels kernels;

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
        kernels = CudaKernels.forDevice(0)
                .orElseThrow(() -> new AssertionError("kernels unavailable: " + CudaKernels.status(0)));
        System.out.println("CUDA kernels: " + CudaKernels.status(0));
    }

    private static byte[] randomBlocks(GgmlType type, int nBlocks, long seed) {
        Random rnd = new Random(seed);
        int ts = (int) type.typeSize();
        byte[] b = new byte[nBlocks * ts];
        rnd.nextBytes(b);
        java.util.Arrays.fill(b, 0, 8 * ts, (byte) 0xFF); // all-ones nibbles and bit planes
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < nBlocks; i++) {
            for (int off : halves(type)) {
                // edge values first, then random finite halves of magnitude 2^-10 .. 2^-1
                short h = i < EDGE.length * 2
                        ? EDGE[i % EDGE.length]
                        : (short)
                                ((rnd.nextBoolean() ? 0x8000 : 0) | ((5 + rnd.nextInt(10)) << 10) | rnd.nextInt(1024));
                bb.putShort(i * ts + off, h);
            }
        }
        return b;
    }

    @Test
    void everyTypeIsBitExactAgainstTheCpuDequantizers() {
        // 2053 blocks: the last CTA of the staged kernel is only partly filled and its bytes end off a
        // 16-byte boundary
        for (GgmlType type : QUANT) {
            for (int nBlocks : new int[] {2048, 2053}) {
                byte[] blocks = randomBlocks(type, nBlocks, type.ordinal());
                long numel = (long) nBlocks * type.blockSize();
                float[] gguf = Dequantizer.dequantize(
                        type, ByteBuffer.wrap(blocks).order(ByteOrder.LITTLE_ENDIAN), type.name(), numel);
                try (PointerScope scope = new PointerScope()) {
                    Tensor cpuRaw = uint8(blocks);
                    Tensor gpuRaw = cpuRaw.to(GPU.toTorch(), ScalarType.Byte);
                    long[] shape = {
                        numel / 256 > 0 && numel % 256 == 0 ? numel / 256 : 1, numel % 256 == 0 ? 256 : numel
                    };
                    Tensor f32 =
                            kernels.dequantize(gpuRaw, type, shape, ScalarType.Float, DequantArithmetic.EXACT_FLOAT32);
                    assertThat(bits(toFloats(f32)))
                            .as("%s float32 vs gguf-py arithmetic", type)
                            .isEqualTo(bits(gguf));
                    for (DequantArithmetic a : DequantArithmetic.values()) {
                        for (ScalarType out :
                                new ScalarType[] {ScalarType.Float, ScalarType.Half, ScalarType.BFloat16}) {
                            Tensor want = TorchDequantizer.dequantize(cpuRaw, type, shape, out, a);
                            Tensor got = kernels.dequantize(gpuRaw, type, shape, out, a);
                            assertThat(io.github.flux4j.core.torch.Torch.dtype(got))
                                    .isEqualTo(out.intern());
                            int[] gotBits = bits(toFloats(got));
                            assertThat(gotBits)
                                    .as("%s %s -> %s (%d blocks)", type, a, out, nBlocks)
                                    .isEqualTo(bits(toFloats(want)));
                            // the tiles per CTA change the grid, never the bits (2053 blocks: a last
                            // CTA with fewer tiles than the others, its last tile partly filled)
                            for (int tiles = 1; tiles <= CudaKernels.DEQUANT_MAX_TILES; tiles++) {
                                Tensor tiled = kernels.dequantize(gpuRaw, type, shape, out, a, tiles);
                                // bits, not Tensor.equal: float16 arithmetic on random scales makes NaNs
                                // (inf - inf in Q2_K), and NaN != NaN (this failed on an H200, 2026-12-06)
                                assertThat(bits(toFloats(tiled)))
                                        .as("%s %s -> %s (%d blocks), %d tiles per CTA", type, a, out, nBlocks, tiles)
                                        .isEqualTo(gotBits);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void fusedMatvecEqualsExpandThenLinear() {
        int out = 77;
        for (GgmlType type : QUANT) {
            // 7 chunks of 256 weights (rounds of 1 to 4 chunks, the last one short), plus a short
            // last chunk where blocks are 32 weights
            int in = 7 * 256 + (type.blockSize() == 32 ? 64 : 0);
            byte[] blocks = randomBlocks(type, (int) ((long) out * in / type.blockSize()), 100 + type.ordinal());
            // finite scales of 2^-10 .. 2^-5 only: the edge scales include 65504, and with IQ4_XS's
            // sub-scales (up to 32) times its grid (up to 127) larger scales overflow a float16 output
            Random rnd = new Random(type.ordinal());
            ByteBuffer bb = ByteBuffer.wrap(blocks).order(ByteOrder.LITTLE_ENDIAN);
            int ts = (int) type.typeSize();
            for (int i = 0; i < blocks.length / ts; i++) {
                for (int off : halves(type)) {
                    bb.putShort(i * ts + off, (short)
                            ((rnd.nextBoolean() ? 0x8000 : 0) | ((5 + rnd.nextInt(6)) << 10) | rnd.nextInt(1024)));
                }
            }
            for (DequantArithmetic a : DequantArithmetic.values()) {
                for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half, ScalarType.Float}) {
                    for (int rows : new int[] {1, 3, CudaKernels.MATVEC_MAX_ROWS}) {
                        try (PointerScope scope = new PointerScope()) {
                            Tensor raw = uint8(blocks).to(GPU.toTorch(), ScalarType.Byte);
                            Tensor x = rand(dt, 31 + rows, rows, in);
                            Tensor bias = rows == 3 ? rand(dt, 41, out) : null;
                            Tensor w = kernels.dequantize(raw, type, new long[] {out, in}, dt, a);
                            Tensor exact = x.to(ScalarType.Double)
                                    .matmul(w.to(ScalarType.Double).t());
                            if (bias != null) {
                                exact = exact.add(bias.to(ScalarType.Double));
                            }
                            Tensor unfused =
                                    torch.linear(x, w, bias == null ? new TensorOptional() : new TensorOptional(bias));
                            Tensor got = kernels.matvec(raw, type, out, in, x, bias, a);
                            assertThat(io.github.flux4j.core.torch.Torch.dtype(got))
                                    .isEqualTo(dt.intern());
                            double relFused = TextRefs.relError(got, exact);
                            double relUnfused = TextRefs.relError(unfused, exact);
                            // both are the exact product rounded once to dt, up to float32 summation order
                            double bound = dt == ScalarType.Float ? 1e-5 : dt == ScalarType.Half ? 2e-3 : 6e-3;
                            assertThat(relFused)
                                    .as("%s %s %s rows %d (unfused: %.2e)", type, a, dt, rows, relUnfused)
                                    .isLessThan(bound);
                            assertThat(TextRefs.relError(got, unfused))
                                    .as("%s %s %s rows %d vs unfused", type, a, dt, rows)
                                    .isLessThan(2 * bound);
                            // every lane adds its chunks in row order at any staging depth: same bits
                            // (compared as bits, as the tile counts above: Tensor.equal is false on NaNs)
                            int[] gotBits = bits(toFloats(got));
                            for (int depth = 1; depth <= CudaKernels.MATVEC_MAX_DEPTH; depth++) {
                                Tensor atDepth = kernels.matvec(raw, type, out, in, x, bias, a, depth);
                                assertThat(bits(toFloats(atDepth)))
                                        .as("%s %s %s rows %d depth %d vs default depth", type, a, dt, rows, depth)
                                        .isEqualTo(gotBits);
                            }
                        }
                    }
                }
            }
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(randomBlocks(GgmlType.Q8_0, 8, 1)).to(GPU.toTorch(), ScalarType.Byte);
            Tensor tooMany = rand(ScalarType.BFloat16, 5, CudaKernels.MATVEC_MAX_ROWS + 1, 32);
            org.assertj.core.api.Assertions.assertThatThrownBy(() ->
                            kernels.matvec(raw, GgmlType.Q8_0, 8, 32, tooMany, null, DequantArithmetic.EXACT_FLOAT32))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("rows");
        }
    }

    @Test
    void plainTypesConvertLikeLibTorch() {
        try (PointerScope scope = new PointerScope()) {
            Tensor src = torch.randn(
                    new long[] {64, 256}, new GeneratorOptional(gen(3)), new TensorOptions(ScalarType.Float));
            for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16}) {
                ScalarType st = type == GgmlType.F32
                        ? ScalarType.Float
                        : type == GgmlType.F16 ? ScalarType.Half : ScalarType.BFloat16;
                Tensor raw = src.to(st).contiguous().view(ScalarType.Byte).reshape(-1);
                for (ScalarType out : new ScalarType[] {ScalarType.Float, ScalarType.Half, ScalarType.BFloat16}) {
                    Tensor want = TorchDequantizer.dequantize(raw, type, new long[] {64, 256}, out);
                    Tensor got = kernels.dequantize(
                            raw.to(GPU.toTorch(), ScalarType.Byte),
                            type,
                            new long[] {64, 256},
                            out,
                            DequantArithmetic.EXACT_FLOAT32);
                    assertThat(bits(toFloats(got))).as("%s -> %s", type, out).isEqualTo(bits(toFloats(want)));
                }
            }
        }
    }

    @Test
    void gatedResidualIsBitExact() {
        for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half, ScalarType.Float}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = rand(dt, 11, 2, 37, 3072);
                Tensor y = rand(dt, 12, 2, 37, 3072);
                Tensor mod = rand(dt, 13, 2, 6 * 3072);
                Tensor gate = mod.narrow(1, 2 * 3072, 3072); // a strided chunk, as the modulation gives
                Tensor want = x.add(gate.unsqueeze(1).mul(y));
                Tensor got = kernels.gatedResidual(x, gate, y);
                assertThat(bits(toFloats(got))).as("%s", dt).isEqualTo(bits(toFloats(want)));
            }
        }
    }

    @Test
    void layerNormModulateMatchesTheUnfusedChain() {
        for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half, ScalarType.Float}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = rand(dt, 21, 2, 300, 3072).mul(new Scalar(3.0)).add(new Scalar(0.5));
                Tensor mod = rand(dt, 22, 2, 6 * 3072);
                Tensor shift = mod.narrow(1, 0, 3072);
                Tensor scale = mod.narrow(1, 3072, 3072);
                Tensor ln =
                        torch.layer_norm(x, new long[] {3072}, new TensorOptional(), new TensorOptional(), 1e-6, true);
                Tensor want = ln.mul(scale.unsqueeze(1).add(new Scalar(1L))).add(shift.unsqueeze(1));
                for (CudaKernels.LnModulateKernel kind : CudaKernels.LnModulateKernel.values()) {
                    Tensor got = kernels.layerNormModulate(x, shift, scale, 1e-6, kind);
                    double rel = TextRefs.relError(got, want);
                    double ulps = maxUlps(got, want, dt);
                    System.out.printf("ln+modulate %s %s: rel %.2e, max %.1f output ulps%n", kind, dt, rel, ulps);
                    // only the float32 statistics' summation order differs: a rare last-bit difference of
                    // the normalised value (which the shift can cancel down to a small result, so ulps of
                    // the output overstate it); measured on an H200: 4.7e-6 relative in bf16 (one row per block)
                    assertThat(rel).as("%s %s", kind, dt).isLessThan(dt == ScalarType.Float ? 1e-6 : 1e-4);
                }
                // two rows per block (300 rows per batch: even) add each row's sums in the same order
                int[] oneRow = bits(toFloats(kernels.layerNormModulate(x, shift, scale, 1e-6, ROW)));
                assertThat(bits(toFloats(kernels.layerNormModulate(x, shift, scale, 1e-6, PAIR))))
                        .as("%s: 2 rows vs 1 row per block", dt)
                        .isEqualTo(oneRow);
                // an odd row count runs one row per block whatever is asked
                Tensor odd = x.narrow(1, 0, 299);
                assertThat(bits(toFloats(kernels.layerNormModulate(odd, shift, scale, 1e-6, PAIR))))
                        .as("%s: odd rows", dt)
                        .isEqualTo(bits(toFloats(kernels.layerNormModulate(odd, shift, scale, 1e-6, ROW))));
            }
        }
    }

    @Test
    void rmsNormRopeMatchesTheUnfusedChain() {
        for (ScalarType dt : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half, ScalarType.Float}) {
            try (PointerScope scope = new PointerScope()) {
                long b = 2;
                long txt = 7;
                long img = 33;
                long heads = 24;
                long d = 128;
                Tensor qt = rand(dt, 31, b, txt, heads, d);
                // the image part as a column slice of a fused projection's output (strided tokens)
                Tensor qi = rand(dt, 32, b, img, 3 * heads * d)
                        .mul(new Scalar(4.0))
                        .narrow(2, heads * d, heads * d)
                        .unflatten(-1, heads, -1);
                Tensor wt = rand(dt, 33, d).add(new Scalar(1.0));
                Tensor wi = rand(dt, 34, d).add(new Scalar(1.0));
                Tensor angles = rand(ScalarType.Float, 35, txt + img, d).mul(new Scalar(50.0));
                Tensor cos = angles.cos();
                Tensor sin = angles.sin();
                Tensor want = rope(torch.cat(new TensorVector(rms(qt, wt), rms(qi, wi)), 1), cos, sin);
                for (boolean vectors : new boolean[] {true, false}) {
                    Tensor got = torch.empty(new long[] {b, txt + img, heads, d}, opts(dt), null);
                    kernels.rmsNormRope(qt, wt, cos, sin, got, 0, 1e-6, vectors);
                    kernels.rmsNormRope(qi, wi, cos, sin, got, txt, 1e-6, vectors);
                    double rel = TextRefs.relError(got, want);
                    System.out.printf(
                            "rms+rope %s%s: rel %.2e, max %.1f output ulps%n",
                            dt, vectors ? " (16-byte vectors)" : "", rel, maxUlps(got, want, dt));
                    // the same single rounding as LibTorch's CUDA rms_norm: only summation order differs
                    assertThat(rel).as("%s vectors=%s", dt, vectors).isLessThan(dt == ScalarType.Float ? 1e-6 : 1e-4);
                }
            }
        }
    }

    // the unfused path's QK norm (Functional.rmsNorm)
    private static Tensor rms(Tensor x, Tensor w) {
        return torch.rms_norm(x, new long[] {x.size(-1)}, new TensorOptional(w), new DoubleOptional(1e-6));
    }

    private static Tensor rope(Tensor x, Tensor cos, Tensor sin) {
        long[] s = {x.size(0), x.size(1), x.size(2), x.size(3) / 2, 2};
        TensorVector reIm = x.reshape(s).unbind(-1);
        Tensor rotated = torch.stack(new TensorVector(reIm.get(1).neg(), reIm.get(0)), -1)
                .flatten(3, -1);
        Tensor c = cos.unsqueeze(0).unsqueeze(2);
        Tensor si = sin.unsqueeze(0).unsqueeze(2);
        return x.to(ScalarType.Float)
                .mul(c)
                .add(rotated.to(ScalarType.Float).mul(si))
                .to(x.scalar_type());
    }

    private static Generator gen(long seed) {
        return torch.make_generator_cpu(seed);
    }

    private static TensorOptions opts(ScalarType dt) {
        return new TensorOptions(dt).device(new DeviceOptional(GPU.toTorch()));
    }

    private static Tensor rand(ScalarType dt, long seed, long... shape) {
        return torch.randn(shape, new GeneratorOptional(gen(seed)), new TensorOptions(ScalarType.Float))
                .to(GPU.toTorch(), dt);
    }

    /** The largest difference in units of the dtype's spacing at each expected value. */
    private static double maxUlps(Tensor a, Tensor e, ScalarType dt) {
        float[] av = toFloats(a);
        float[] ev = toFloats(e);
        int mant = dt == ScalarType.Float ? 23 : dt == ScalarType.Half ? 10 : 7;
        double worst = 0;
        for (int i = 0; i < av.length; i++) {
            double ulp = Math.max(Math.ulp(ev[i]) * Math.pow(2, 23 - mant), 1e-30);
            worst = Math.max(worst, Math.abs(av[i] - ev[i]) / ulp);
        }
        return worst;
    }
}
