package io.github.flux4j.core.transformer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The transformer on a CUDA device against the (CPU-made) diffusers references. Skipped unless
 * the GPU natives and a GPU are present; run on the GPU host with the {@code -gpu} runtime.
 */
class FluxTransformerCudaTest {
    static final FluxDevice GPU = FluxDevice.cuda(0);
    /**
     * float32 on the GPU vs diffusers float32 on the CPU, the same bound as on the CPU
     * ({@link FluxTransformerReferenceTest#F32_TOL}): the conditioning sinusoid is computed on the
     * host, so the GPU gets the CPU's embedding bit for bit, and the residual is again the
     * references' own rounding of one sinusoid frequency. Observed on an H100: at most 8.14e-6
     * (dev; schnell 1.2e-6), within ~1e-7 of the CPU's figures for the same files: cuBLAS and
     * cuDNN attention summation orders add little. (Before the host sinusoid, CUDA's
     * expf/sinf/cosf gave 2.5e-5.)
     */
    static final double F32_TOL = 1e-5;
    /**
     * bf16 on the GPU (diffusers' fp16 dequantization) vs diffusers' bf16 GGUF path on the CPU:
     * the same bf16 weights, but GPU GEMM and attention kernels round differently from the CPU
     * ones, and every bf16 rounding difference is a 0.4 % step; the whole bf16-vs-f32 gap is ~1 %.
     */
    static final double BF16_TOL = 2e-2;

    @TempDir
    static Path dir;

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
        Torch.preferCudnnAttention(GPU);
    }

    private static Tensor run(FluxTransformer m, FluxReference ref) {
        return m.forward(
                ref.get("input.hidden_states"),
                ref.get("input.img_ids"),
                ref.get("input.encoder_hidden_states"),
                ref.get("input.txt_ids"),
                ref.get("input.timestep"),
                ref.get("input.pooled_projections"),
                m.config().guidanceEmbed() ? ref.get("input.guidance") : null);
    }

    @ParameterizedTest
    @EnumSource(
            value = Variant.class,
            names = {"DEV_F32", "DEV_BF16", "DEV_Q8_0", "DEV_Q4_K", "DEV_Q6_K", "SCHNELL_Q8_0"})
    void matchesDiffusersOnTheGpu(Variant v) throws IOException {
        Path file = TinyFluxFiles.write(v, dir);
        LoadOptions f32 = LoadOptions.defaults().withDevice(GPU).withDtype(ComputeDtype.F32);
        LoadOptions bf16 =
                LoadOptions.defaults().withDevice(GPU).withArithmetic(DequantArithmetic.FLOAT16_LIKE_DIFFUSERS);
        try (FluxReference ref = FluxReference.of(v);
                PointerScope scope = new PointerScope()) {
            double e32;
            double e16;
            try (FluxTransformer m = GgufTransformer.load(file, f32)) {
                Tensor out = run(m, ref);
                assertThat(out.is_cuda()).isTrue();
                e32 = TextRefs.relError(out, ref.get("f32.output"));
            }
            try (FluxTransformer m = GgufTransformer.load(file, bf16)) {
                e16 = TextRefs.relError(run(m, ref), ref.get("bf16.output"));
            }
            System.out.printf("CUDA %-24s f32 rel error %.2e, bf16 rel error %.2e%n", v.variantName(), e32, e16);
            assertThat(e32).as(v + " f32").isLessThan(F32_TOL);
            assertThat(e16).as(v + " bf16").isLessThan(BF16_TOL);
        }
    }

    @Test
    void forwardKeepsOnlyItsResultOnTheDevice() throws IOException {
        Path file = TinyFluxFiles.write(Variant.DEV_Q4_K, dir);
        try (FluxReference ref = FluxReference.of(Variant.DEV_Q4_K);
                FluxTransformer m =
                        GgufTransformer.load(file, LoadOptions.defaults().withDevice(GPU));
                PointerScope scope = new PointerScope()) {
            run(m, ref); // warm-up: lazily created tables, cuDNN plans
            torch_cuda.device_synchronize();
            long before = torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();
            Tensor out = run(m, ref);
            torch_cuda.device_synchronize();
            long after = torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();
            long outBytes = out.numel() * 2;
            // the result, rounded up to the caching allocator's 512-byte blocks
            assertThat(after - before).isBetween(outBytes, outBytes + 512);
        }
    }

    /**
     * The fast path (CUDA dequantization kernels, fused LayerNorm+modulation, QK norm+RoPE, gated
     * residuals, cuBLASLt GEMMs) against the LibTorch-ops reference path on the same weights and inputs, and
     * the resident cache of expanded weights against the per-forward kernels (same bits expected).
     */
    @ParameterizedTest
    @EnumSource(
            value = Variant.class,
            names = {"DEV_F32", "DEV_Q8_0", "DEV_Q4_K", "DEV_Q6_K", "DEV_Q5_1", "SCHNELL_Q8_0"})
    void fastPathMatchesTheReferencePath(Variant v) throws IOException {
        Path file = TinyFluxFiles.write(v, dir);
        for (ComputeDtype dtype : new ComputeDtype[] {ComputeDtype.F32, ComputeDtype.BF16}) {
            LoadOptions fast = LoadOptions.defaults().withDevice(GPU).withDtype(dtype);
            try (FluxReference ref = FluxReference.of(v);
                    PointerScope scope = new PointerScope()) {
                Tensor outFast;
                Tensor outRef;
                Tensor outCached;
                // the fast path with the cuBLASLt GEMMs on (whatever their default), the reference with
                // LibTorch ops and LibTorch's own GEMM calls
                try (FluxTransformer m = GgufTransformer.load(file, fast)) {
                    outFast = withCublasLt(true, () -> run(m, ref));
                }
                try (FluxTransformer m = GgufTransformer.load(file, fast.withCudaKernels(false))) {
                    outRef = withCublasLt(false, () -> run(m, ref));
                }
                try (FluxTransformer m = GgufTransformer.load(file, fast.withDequantizedCacheBytes(1L << 30))) {
                    run(m, ref);
                    outCached = run(m, ref); // second forward: from the resident weights
                }
                // the resident weights run the same GEMMs as per-forward expansion, but the few-row
                // linears (modulation, embedders) of the kernel path take the fused matvec, whose
                // float32 summation order differs: compare the cache with that kernel off
                Tensor outNoMatvec;
                try (FluxTransformer m = GgufTransformer.load(file, fast.withFusedMatvec(false))) {
                    outNoMatvec = run(m, ref);
                }
                double e = TextRefs.relError(outFast, outRef);
                double c = TextRefs.relError(outCached, outNoMatvec);
                double mv = TextRefs.relError(outFast, outNoMatvec);
                System.out.printf(
                        "CUDA %-24s %s fast vs reference path %.2e, cached vs kernels %.2e, matvec vs expand+GEMM"
                                + " %.2e (%s)%n",
                        v.variantName(), dtype, e, c, mv, io.github.flux4j.core.cuda.CudaKernels.status(0));
                assertThat(e).as(v + " " + dtype).isLessThan(dtype == ComputeDtype.F32 ? 1e-5 : 1e-2);
                assertThat(c).as(v + " " + dtype + " cached").isEqualTo(0.0);
                assertThat(mv).as(v + " " + dtype + " matvec").isLessThan(dtype == ComputeDtype.F32 ? 1e-5 : 1e-2);
            }
        }
    }

    /**
     * {@link GraphedForward}: the first forward of a shape eager, the second captured and replayed,
     * the third replayed over a new timestep; each equals the eager forward on the same inputs, one
     * graph is kept, and moving the model drops it.
     */
    @ParameterizedTest
    @EnumSource(
            value = Variant.class,
            names = {"DEV_F32", "DEV_Q8_0", "DEV_Q4_K", "SCHNELL_Q8_0"})
    void graphedForwardReplaysTheEagerForward(Variant v) throws IOException {
        Path file = TinyFluxFiles.write(v, dir);
        for (ComputeDtype dtype : new ComputeDtype[] {ComputeDtype.F32, ComputeDtype.BF16}) {
            LoadOptions opts = LoadOptions.defaults().withDevice(GPU).withDtype(dtype);
            try (FluxReference ref = FluxReference.of(v);
                    PointerScope scope = new PointerScope();
                    FluxTransformer m = GgufTransformer.load(file, opts);
                    GraphedForward graphs = new GraphedForward(m)) {
                Tensor[] in = new Tensor[7];
                String[] names = {
                    "input.hidden_states",
                    "input.img_ids",
                    "input.encoder_hidden_states",
                    "input.txt_ids",
                    "input.timestep",
                    "input.pooled_projections",
                    "input.guidance"
                };
                boolean guided = m.config().guidanceEmbed(); // schnell's references have no guidance
                for (int i = 0; i < (guided ? in.length : in.length - 1); i++) {
                    Tensor t = ref.get(names[i]);
                    in[i] = t.to(GPU.toTorch(), t.scalar_type());
                }
                Tensor guidance = guided ? in[6] : null;
                for (int call = 0; call < 3; call++) {
                    if (call == 2) {
                        in[4].mul_(new org.bytedeco.pytorch.Scalar(0.5)); // a later step's timestep
                    }
                    Tensor out = graphs.forward(in[0], in[1], in[2], in[3], in[4], in[5], guidance);
                    Tensor eager = m.forward(in[0], in[1], in[2], in[3], in[4], in[5], guidance);
                    double e = TextRefs.relError(out, eager);
                    System.out.printf("CUDA graph %-24s %s call %d: %.2e vs eager%n", v.variantName(), dtype, call, e);
                    assertThat(e)
                            .as(v + " " + dtype + " call " + call)
                            .isLessThan(dtype == ComputeDtype.F32 ? 1e-6 : 1e-3);
                }
                assertThat(graphs.graphs()).isEqualTo(1);
                m.moveTo(FluxDevice.cpu(), false);
                m.moveTo(GPU, false);
                Tensor after = graphs.forward(in[0], in[1], in[2], in[3], in[4], in[5], guidance);
                assertThat(graphs.graphs()).as("a move drops the graphs").isZero();
                assertThat(TextRefs.relError(after, m.forward(in[0], in[1], in[2], in[3], in[4], in[5], guidance)))
                        .isLessThan(dtype == ComputeDtype.F32 ? 1e-6 : 1e-3);
            }
        }
    }

    /** Runs {@code body} with {@code -Dflux4j.cuda.cublasLt} set to {@code on}, then restores it. */
    private static Tensor withCublasLt(boolean on, java.util.function.Supplier<Tensor> body) {
        String before = System.getProperty(io.github.flux4j.core.cuda.CublasLt.PROPERTY);
        System.setProperty(io.github.flux4j.core.cuda.CublasLt.PROPERTY, Boolean.toString(on));
        try {
            return body.get();
        } finally {
            if (before == null) {
                System.clearProperty(io.github.flux4j.core.cuda.CublasLt.PROPERTY);
            } else {
                System.setProperty(io.github.flux4j.core.cuda.CublasLt.PROPERTY, before);
            }
        }
    }
}
