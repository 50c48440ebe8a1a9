package io.github.flux4j.core.transformer;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The transformer against diffusers' {@code FluxTransformer2DModel} on the tiny FLUX files
 * ({@code reference/flux/README.md}). Errors are relative: ‖ours − ref‖₂ / ‖ref‖₂.
 */
class FluxTransformerReferenceTest {
    /**
     * float32 compute vs diffusers' float32 forward on gguf-py's float32 dequantization, for what
     * precedes the conditioning vector ({@code x_embedder}, {@code context_embedder}, RoPE): the
     * same weights through the same ATen ops, so float rounding of kernel summation order at most
     * (observed: bit-identical).
     */
    static final double F32_EXACT_TOL = 1e-6;
    /**
     * float32 compute vs diffusers' float32 forward, from the conditioning vector {@code temb} on
     * (every block, the output). Observed: at most 9.1e-6 (dev-F32, {@code single.1} text
     * stream), 6–8e-6 for the other dev files, 1.4e-6 for schnell. The residual is the
     * reference's own rounding, not our arithmetic: diffusers' sinusoid took torch 2.13's float32
     * {@code exp} (MKL VML, accurate to 1 ulp, not correctly rounded), which rounds 2 of the 128
     * frequencies {@code exp(-ln(1e4) k/128)} the other way, k = 12 (exact value 0.479 ulp above
     * the float below; MKL returns the float above) and k = 106. We use the correctly rounded
     * values ({@link FluxMath#sinusoid}); at {@code 1000 * guidance = 4000} that one ulp of
     * f₁₂ is one ulp (1.2e-4) of its argument, so the guidance embedding differs by 1.1e-5 and
     * {@code temb} by 6.6e-6 before any block runs. diffusers itself, run with the correctly
     * rounded sinusoid, is as far from its own reference (9.13e-6 max, output 8.2e-6 dev-F32);
     * our forward vs that run: 2.7e-7 ({@code temb}) … 7.4e-7 (blocks, output), float32 GEMM
     * summation order (OpenBLAS here, MKL in torch 2.13: ~2e-7 per linear on random data). So the
     * margin to 1e-5 is ~1e-6, ~5× what the kernels contribute. A wrong op (chunk order, RoPE
     * layout, a missing cast) moves these by 1e-2 or more.
     */
    static final double F32_TOL = 1e-5;
    /**
     * bf16 compute with our default exact (float32) dequantization vs diffusers' GGUF bf16 path,
     * which dequantizes in float16 arithmetic (each op rounded to fp16) before casting to bf16:
     * the weights differ by an fp16 rounding, which after four blocks in bf16 amounts to about
     * 0.5 % (observed up to 6.5e-3); the whole bf16-vs-f32 gap is ~1 %, a wrong block moves the
     * output by tens of percent.
     */
    static final double BF16_EXACT_DEQUANT_TOL = 2e-2;
    /**
     * bf16 compute with diffusers' float16 dequantization: the same bf16 weights bit for bit.
     * Observed: dev F32/BF16/Q8_0/Q4_0 and schnell Q8_0 give diffusers' output bit for bit; the
     * others differ by up to 4.3e-3 because LibTorch 2.10's CPU bf16
     * {@code scaled_dot_product_attention} differs from torch 2.13's (about 1 output in 8000 one
     * bf16 ulp off, measured on random inputs). With diffusers' sinusoid replaced by ours, its
     * dev-Q4_K and schnell-F32 runs equal ours bit for bit through the first double block and
     * first differ in 13 of 6144 image values after the second: an ulp flip that later bf16
     * blocks spread. (The sinusoid's float32 one-ulp differences, {@link #F32_TOL}, hardly
     * survive its cast to bf16: every bf16 error here was the same, to 3 digits, when the
     * sinusoid still used LibTorch's own exp/sin/cos.)
     */
    static final double BF16_DIFFUSERS_DEQUANT_TOL = 1e-2;
    /** Intermediates bit-identical (up to kernel summation order) to diffusers: everything before {@code temb}. */
    static final Set<String> BEFORE_CONDITIONING = Set.of("x_embedder", "context_embedder", "rope_cos", "rope_sin");

    static final LoadOptions F32 = LoadOptions.defaults().withDtype(ComputeDtype.F32);
    static final LoadOptions BF16 = LoadOptions.defaults();
    static final LoadOptions BF16_LIKE_DIFFUSERS = BF16.withArithmetic(DequantArithmetic.FLOAT16_LIKE_DIFFUSERS);

    @TempDir
    static Path dir;

    static final Map<Variant, Path> FILES = new LinkedHashMap<>();

    @BeforeAll
    static void writeFiles() throws IOException {
        for (Variant v : Variant.values()) {
            FILES.put(v, TinyFluxFiles.write(v, dir));
        }
    }

    /** Runs the model on the reference inputs (with timestep/guidance overridden by {@code prefix} keys where given). */
    private static Tensor run(FluxTransformer m, FluxReference ref, String condPrefix, ForwardTrace trace) {
        Tensor guidance = m.config().guidanceEmbed() ? ref.get(condPrefix + "guidance") : null;
        return m.forward(
                ref.get("input.hidden_states"),
                ref.get("input.img_ids"),
                ref.get("input.encoder_hidden_states"),
                ref.get("input.txt_ids"),
                ref.get(condPrefix + "timestep"),
                ref.get("input.pooled_projections"),
                guidance,
                trace);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void float32MatchesDiffusersIncludingIntermediates(Variant v) throws IOException {
        try (FluxReference ref = FluxReference.of(v);
                FluxTransformer m = GgufTransformer.load(FILES.get(v), F32);
                PointerScope scope = new PointerScope()) {
            Set<String> intermediates = ref.keys("f32.");
            Map<String, Double> errors = new LinkedHashMap<>();
            Tensor out = run(m, ref, "input.", (name, t) -> {
                if (intermediates.contains(name)) {
                    errors.put(name, TextRefs.relError(t, ref.get("f32." + name)));
                }
            });
            assertThat(io.github.flux4j.core.torch.Torch.dtype(out)).isEqualTo(ScalarType.Float);
            errors.put("output", TextRefs.relError(out, ref.get("f32.output")));
            Map.Entry<String, Double> worst =
                    errors.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow();
            System.out.printf(
                    "%-28s f32 rel error: output %.2e, max %.2e (%s) over %d tensors%n",
                    v.variantName(), errors.get("output"), worst.getValue(), worst.getKey(), errors.size());
            // every stored intermediate was compared
            assertThat(errors.keySet()).containsAll(intermediates);
            assertThat(errors)
                    .allSatisfy((name, err) -> assertThat(err)
                            .as(v + " " + name)
                            .isLessThan(BEFORE_CONDITIONING.contains(name) ? F32_EXACT_TOL : F32_TOL));

            if (ref.has("rounding.f32.output")) {
                double err =
                        TextRefs.relError(run(m, ref, "rounding.", ForwardTrace.NONE), ref.get("rounding.f32.output"));
                System.out.printf("%-28s f32 rel error: rounding.f32.output %.2e%n", v.variantName(), err);
                assertThat(err).as(v + " rounding.f32.output").isLessThan(F32_TOL);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void bfloat16MatchesDiffusersGgufPath(Variant v) throws IOException {
        try (FluxReference ref = FluxReference.of(v);
                PointerScope scope = new PointerScope()) {
            Tensor expected = ref.get("bf16.output");
            double exact;
            try (FluxTransformer m = GgufTransformer.load(FILES.get(v), BF16)) {
                Tensor out = run(m, ref, "input.", ForwardTrace.NONE);
                assertThat(io.github.flux4j.core.torch.Torch.dtype(out)).isEqualTo(ScalarType.BFloat16);
                exact = TextRefs.relError(out, expected);
            }
            double likeDiffusers;
            double rounding = Double.NaN;
            try (FluxTransformer m = GgufTransformer.load(FILES.get(v), BF16_LIKE_DIFFUSERS)) {
                likeDiffusers = TextRefs.relError(run(m, ref, "input.", ForwardTrace.NONE), expected);
                if (ref.has("rounding.bf16.output")) {
                    // t = 0.75, g = 3.5: diffusers feeds bf16(750) = 752 and bf16(3500) = 3504
                    rounding = TextRefs.relError(
                            run(m, ref, "rounding.", ForwardTrace.NONE), ref.get("rounding.bf16.output"));
                }
            }
            System.out.printf(
                    "%-28s bf16 rel error: exact dequant %.2e, diffusers' fp16 dequant %.2e, rounding extra %.2e%n",
                    v.variantName(), exact, likeDiffusers, rounding);
            assertThat(exact).as(v + " bf16, exact dequantization").isLessThan(BF16_EXACT_DEQUANT_TOL);
            assertThat(likeDiffusers).as(v + " bf16, diffusers' dequantization").isLessThan(BF16_DIFFUSERS_DEQUANT_TOL);
            if (!Double.isNaN(rounding)) {
                assertThat(rounding).as(v + " rounding.bf16.output").isLessThan(BF16_DIFFUSERS_DEQUANT_TOL);
            }
        }
    }

    @Test
    void ropeTablesEqualDiffusersExactly() throws IOException {
        try (FluxReference ref = FluxReference.of(Variant.DEV_F32);
                FluxTransformer m = GgufTransformer.load(FILES.get(Variant.DEV_F32), F32);
                PointerScope scope = new PointerScope()) {
            Map<String, Boolean> equal = new LinkedHashMap<>();
            run(m, ref, "input.", (name, t) -> {
                if (name.startsWith("rope_")) {
                    equal.put(name, org.bytedeco.pytorch.global.torch.equal(t, ref.get("f32." + name)));
                }
            });
            // float64 angles, cast to float32 once: bit-identical tables
            assertThat(equal).containsEntry("rope_cos", true).containsEntry("rope_sin", true);
        }
    }
}
