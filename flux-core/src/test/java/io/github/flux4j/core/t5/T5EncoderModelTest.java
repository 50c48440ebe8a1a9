package io.github.flux4j.core.t5;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.offload.BlockStreamer;
import io.github.flux4j.core.offload.StreamableBlocks;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.testing.TextRefs.StTensor;
import io.github.flux4j.core.text.HfActivation;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.StageTimings;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.WeightBindingException;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link T5EncoderModel} against transformers' {@code T5EncoderModel} on the tiny T5s of
 * {@code reference/text/} (README there): the dense one (d_model 64, 2 layers, sharded
 * safetensors), its Q8_0 GGUF, and a K-quant GGUF (d_model 256, Q4_K/Q6_K/Q8_0 blocks). GGUF
 * references are transformers run on gguf-py's float32 dequantization of the same blocks. Errors
 * are relative: ‖ours − ref‖₂ / ‖ref‖₂.
 */
class T5EncoderModelTest {
    /**
     * float32 against transformers' float32: the same weights (for GGUF: our float32 expansion is
     * bit-identical to gguf-py's) and the same ATen ops in the same order, so only CPU kernel
     * summation orders of LibTorch 2.10 versus torch 2.13 differ.
     */
    static final double F32_TOL = 1e-5;
    /**
     * bf16 against transformers' bf16: the same ops, but every op rounds to bf16 (1 ulp =
     * 0.4 %), so a kernel summing in another order flips roundings that then propagate; the
     * observed values are in docs/text-encoders.md. bf16 versus float32 differ by 0.6 % (dense)
     * to 3 % (K-quant model), so a real mistake would exceed this bound.
     */
    static final double BF16_TOL = 3e-3;
    /**
     * float16 against transformers' float16 (float32 {@code wo}, float32 residual stream after
     * the first feed-forward): mostly float32 arithmetic, rounded to float16 (1 ulp = 0.05 %) at
     * the projections.
     */
    static final double F16_TOL = 5e-4;

    static final LoadOptions F32 = LoadOptions.defaults().withDtype(ComputeDtype.F32);
    static final LoadOptions BF16 = LoadOptions.defaults();
    static final Path DENSE = TextRefs.resource("t5");
    static final Path Q8 = TextRefs.resource("t5-gguf/t5-tiny-Q8_0.gguf");
    static final Path KQUANT = TextRefs.resource("t5-gguf/t5-kquant.gguf");
    static TextRefs refs;

    @BeforeAll
    static void open() {
        Torch.init();
        refs = TextRefs.open();
    }

    @AfterAll
    static void close() throws IOException {
        refs.close();
    }

    private static double run(Path path, LoadOptions options, String idsKey, String refKey) throws IOException {
        try (T5EncoderModel m = T5EncoderModel.load(path, options);
                PointerScope scope = new PointerScope()) {
            Tensor out = m.forward(refs.get(idsKey));
            Tensor ref = refs.get(refKey);
            assertThat(out.sizes().vec().get())
                    .containsExactly(ref.sizes().vec().get());
            assertThat(Torch.dtype(out)).isEqualTo(options.dtype().scalarType());
            double err = TextRefs.relError(out, ref);
            System.out.printf("%s %s vs %s: %.3g%n", path.getFileName(), options.dtype(), refKey, err);
            return err;
        }
    }

    // ------------------------------------------------------------------ block streaming

    /**
     * T5's blocks stream like the transformer's (SEQUENTIAL offload keeps T5 off the device that
     * way): the blocks list exactly the checkpoint's {@code encoder.block.N} tensors but block 0's
     * relative attention bias, and streamed forwards (every block, or some; after the arenas were
     * freed too) are bit-identical to the unstreamed model, which still matches transformers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"dense-bf16", "q8-f32"})
    void streamedBlocksGiveBitIdenticalOutputs(String variant) throws IOException {
        Path path = variant.startsWith("dense") ? DENSE : Q8;
        LoadOptions options = variant.endsWith("bf16") ? BF16 : F32;
        try (T5EncoderModel m = T5EncoderModel.load(path, options);
                PointerScope scope = new PointerScope()) {
            Tensor ids = refs.get("t5.input_ids");
            Tensor expected = m.forward(ids);
            if (variant.equals("q8-f32")) {
                assertThat(TextRefs.relError(expected, refs.get("t5q8.f32.last_hidden_state")))
                        .isLessThan(F32_TOL);
            }
            List<String> names = new ArrayList<>();
            for (int b = 0; b < m.blockCount(); b++) {
                m.forEachBlockParameter(b, (n, t) -> names.add(n));
            }
            assertThat(names)
                    .allMatch(n -> n.startsWith("encoder.block."))
                    .noneMatch(n -> n.contains("relative_attention_bias"))
                    .contains(
                            "encoder.block.0.layer.0.SelfAttention.q.weight",
                            "encoder.block.1.layer.1.layer_norm.weight");
            // per block: q, k, v, o, two layer norms, and wi_0, wi_1, wo (gated) or wi, wo
            assertThat(names).hasSize(m.blockCount() * (6 + (m.config().gatedAct() ? 3 : 2)));
            for (TreeSet<Integer> streamed : List.of(
                    IntStream.range(0, m.blockCount()).boxed().collect(Collectors.toCollection(TreeSet::new)),
                    new TreeSet<>(List.of(1)))) {
                try (BlockStreamer s = BlockStreamer.attach(StreamableBlocks.of(m), FluxDevice.cpu(), streamed)) {
                    for (int i = 0; i < 2; i++) {
                        assertThat(torch.equal(m.forward(ids), expected))
                                .as("%s %s forward %d", variant, streamed, i)
                                .isTrue();
                    }
                    s.freeArenas();
                    assertThat(torch.equal(m.forward(ids), expected))
                            .as("%s %s after freeArenas", variant, streamed)
                            .isTrue();
                }
                assertThat(m.blockHook()).isNull();
                assertThat(torch.equal(m.forward(ids), expected))
                        .as("after close")
                        .isTrue();
            }
        }
    }

    // ------------------------------------------------------------------ configs

    @Test
    void configIsReadFromConfigJson() throws IOException {
        T5Config c = T5Config.read(DENSE.resolve("config.json"));
        assertThat(c).isEqualTo(new T5Config(1100, 64, 16, 128, 2, 4, 32, 128, 1e-6, HfActivation.GELU_NEW, true));
    }

    @Test
    void feedForwardProjDecidesTheActivation() {
        T5Config relu = T5Config.fromJson(Map.of("feed_forward_proj", "relu"), "x");
        assertThat(relu.gatedAct()).isFalse();
        assertThat(relu.denseActFn()).isEqualTo(HfActivation.RELU);
        T5Config gatedSilu = T5Config.fromJson(Map.of("feed_forward_proj", "gated-silu", "dense_act_fn", "relu"), "x");
        assertThat(gatedSilu.gatedAct()).isTrue();
        assertThat(gatedSilu.denseActFn()).isEqualTo(HfActivation.SILU);
        assertThatThrownBy(() -> T5Config.fromJson(Map.of("feed_forward_proj", "fancy-gelu"), "cfg.json"))
                .hasMessageContaining("cfg.json: feed_forward_proj 'fancy-gelu'");
    }

    @Test
    void ggufConfigComesFromMetadataOrShapes() throws IOException {
        try (WeightSource s = WeightSource.gguf(Q8);
                T5EncoderModel m = T5EncoderModel.load(s, F32)) {
            assertThat(m.config()).isEqualTo(T5Config.read(DENSE.resolve("config.json")));
        }
        // No hyper-parameter keys: all from shapes (inner dim 128 != d_model 256).
        try (WeightSource s = WeightSource.gguf(KQUANT);
                T5EncoderModel m = T5EncoderModel.load(s, F32)) {
            assertThat(m.config())
                    .isEqualTo(new T5Config(300, 256, 64, 256, 1, 2, 32, 128, 1e-6, HfActivation.GELU_NEW, true));
        }
    }

    @Test
    void relativePositionBucketsMatchTransformers() {
        try (PointerScope scope = new PointerScope()) {
            Tensor rel = refs.get("t5.buckets_relative_positions").to(ScalarType.Long);
            Tensor buckets = T5Attention.relativePositionBucket(rel, true, 32, 128);
            assertThat(torch.equal(
                            buckets, refs.get("t5.buckets_bidirectional_32_128").to(ScalarType.Long)))
                    .isTrue();
        }
    }

    // ------------------------------------------------------------------ dense safetensors

    @Test
    void float32MatchesTransformers() throws IOException {
        assertThat(run(DENSE, F32, "t5.input_ids", "t5.f32.last_hidden_state")).isLessThan(F32_TOL);
    }

    @Test
    void bfloat16MatchesTransformers() throws IOException {
        assertThat(run(DENSE, BF16, "t5.input_ids", "t5.bf16.last_hidden_state"))
                .isLessThan(BF16_TOL);
    }

    @Test
    void float16MatchesTransformersWithFloat32Wo() throws IOException {
        assertThat(run(DENSE, BF16.withDtype(ComputeDtype.F16), "t5.input_ids", "t5.f16.last_hidden_state"))
                .isLessThan(F16_TOL);
    }

    @Test
    void attentionMaskMatchesTransformers() throws IOException {
        try (T5EncoderModel m = T5EncoderModel.load(DENSE, F32);
                PointerScope scope = new PointerScope()) {
            Tensor masked = m.forward(refs.get("t5.input_ids"), refs.get("t5.attention_mask"));
            double err = TextRefs.relError(masked, refs.get("t5.f32.masked_last_hidden_state"));
            System.out.printf("t5 F32 with attention mask vs transformers: %.3g%n", err);
            assertThat(err).isLessThan(F32_TOL);
            // Without a mask (FLUX) the padding is attended to: row 0 (padded) differs, row 1 (full) does not.
            Tensor unmasked = m.forward(refs.get("t5.input_ids"));
            assertThat(TextRefs.relError(unmasked.select(0, 0), masked.select(0, 0)))
                    .isGreaterThan(0.1);
            assertThat(TextRefs.relError(unmasked.select(0, 1), masked.select(0, 1)))
                    .isLessThan(F32_TOL);
        }
    }

    // ------------------------------------------------------------------ GGUF

    @Test
    void q8GgufMatchesItsDequantizedTwinInFloat32() throws IOException {
        assertThat(run(Q8, F32, "t5.input_ids", "t5q8.f32.last_hidden_state")).isLessThan(F32_TOL);
    }

    @Test
    void q8GgufMatchesItsDequantizedTwinInBfloat16() throws IOException {
        assertThat(run(Q8, BF16, "t5.input_ids", "t5q8.bf16.last_hidden_state")).isLessThan(BF16_TOL);
    }

    @Test
    void q8GgufIsCloseToTheDenseModelItWasQuantizedFrom() throws IOException {
        // Q8_0 quantization error of the weights: ~1 % at the output of this tiny model.
        assertThat(run(Q8, F32, "t5.input_ids", "t5.f32.last_hidden_state")).isBetween(1e-4, 3e-2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16"})
    void kQuantGgufMatchesItsDequantizedTwin(String dtype) throws IOException {
        LoadOptions o = BF16.withDtype(ComputeDtype.valueOf(dtype));
        double tol = dtype.equals("F32") ? F32_TOL : BF16_TOL;
        assertThat(run(KQUANT, o, "t5k.input_ids", "t5k." + dtype.toLowerCase() + ".last_hidden_state"))
                .isLessThan(tol);
    }

    @Test
    void ggufMatricesStayQuantizedAndDecoderTensorsAreIgnored() throws IOException {
        try (WeightSource s = WeightSource.gguf(KQUANT);
                T5EncoderModel m = T5EncoderModel.load(s, BF16)) {
            assertThat(m.leftovers()).isEmpty();
            // Every matrix keeps its GGUF type (expanded on each forward), q, k, v, o, wi_0, wi_1, wo:
            assertThat(m.blocks().get(0).linears())
                    .extracting(LinearOp::quantType)
                    .containsExactly(
                            GgmlType.Q4_K,
                            GgmlType.Q6_K,
                            GgmlType.Q4_K,
                            GgmlType.Q8_0,
                            GgmlType.Q4_K,
                            GgmlType.Q6_K,
                            GgmlType.Q4_K);
            // and the bytes loaded are those stored, minus the ignored decoder norm (1 KiB).
            long fileBytes = Files.size(KQUANT);
            assertThat(m.weightBytes()).isLessThan(fileBytes).isGreaterThan(fileBytes - 10_000);
        }
        try (T5EncoderModel m = T5EncoderModel.load(KQUANT, BF16)) {
            assertThat(m.toString()).contains("d_model 256");
        }
    }

    // ------------------------------------------------------------------ loading errors

    @Test
    void aMissingGgufTensorIsNamedWithItsStoredName(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("missing.gguf");
        TextRefs.copyGguf(Q8, file, n -> !n.equals("enc.blk.1.attn_k.weight"), Map.of());
        assertThatThrownBy(() -> T5EncoderModel.load(file, F32))
                .isInstanceOf(WeightBindingException.class)
                .satisfies(e -> assertThat(((WeightBindingException) e).problems())
                        .extracting(WeightBindingException.Problem::name)
                        .containsExactly("encoder.block.1.layer.0.SelfAttention.k.weight"))
                .hasMessageContaining("missing.gguf does not fit a T5 encoder");
    }

    @Test
    void aMisShapedTensorIsNamed(@TempDir Path dir) throws IOException {
        // The dense checkpoint as one model.safetensors, with one tensor's shape changed.
        Map<String, StTensor> all = new LinkedHashMap<>();
        try (var files = Files.list(DENSE)) {
            for (Path shard : files.filter(p -> p.toString().endsWith(".safetensors"))
                    .sorted()
                    .toList()) {
                all.putAll(TextRefs.readSafetensors(shard));
            }
        }
        StTensor wo = all.get("encoder.block.1.layer.1.DenseReluDense.wo.weight");
        all.put(
                "encoder.block.1.layer.1.DenseReluDense.wo.weight",
                new StTensor(wo.dtype(), new long[] {128, 64}, wo.data()));
        TextRefs.writeSafetensors(dir.resolve("model.safetensors"), all);
        Files.copy(DENSE.resolve("config.json"), dir.resolve("config.json"));
        assertThatThrownBy(() -> T5EncoderModel.load(dir, F32))
                .isInstanceOf(WeightBindingException.class)
                .hasMessageContaining(
                        "encoder.block.1.layer.1.DenseReluDense.wo.weight: expected [64, 128], found BF16 [128, 64]");
    }

    @Test
    void aTiedEmbeddingCopyIsAcceptedAndAloneItStandsForShared(@TempDir Path dir) throws IOException {
        Map<String, StTensor> all = new LinkedHashMap<>();
        try (var files = Files.list(DENSE)) {
            for (Path shard : files.filter(p -> p.toString().endsWith(".safetensors"))
                    .sorted()
                    .toList()) {
                all.putAll(TextRefs.readSafetensors(shard));
            }
        }
        all.put("encoder.embed_tokens.weight", all.get("shared.weight"));
        all.put("decoder.final_layer_norm.weight", all.get("encoder.final_layer_norm.weight"));
        Files.createDirectories(dir.resolve("both"));
        TextRefs.writeSafetensors(dir.resolve("both/t5xxl.safetensors"), all);
        all.remove("shared.weight");
        Files.createDirectories(dir.resolve("copy-only"));
        TextRefs.writeSafetensors(dir.resolve("copy-only/t5xxl.safetensors"), all);
        for (String variant : new String[] {"both", "copy-only"}) {
            try (T5EncoderModel m = T5EncoderModel.load(dir.resolve(variant + "/t5xxl.safetensors"), F32);
                    PointerScope scope = new PointerScope()) {
                assertThat(m.config()).isEqualTo(T5Config.read(DENSE.resolve("config.json")));
                Tensor out = m.forward(refs.get("t5.input_ids"));
                assertThat(TextRefs.relError(out, refs.get("t5.f32.last_hidden_state")))
                        .as(variant)
                        .isLessThan(F32_TOL);
            }
        }
    }

    @Test
    void aGgufOfAnotherArchitectureIsRefused(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("flux.gguf");
        TextRefs.copyGguf(Q8, file, n -> true, Map.of("general.architecture", new GgufValue.Str("flux")));
        assertThatThrownBy(() -> T5EncoderModel.load(file, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(
                        "is a 'flux' model (general.architecture), not a T5 encoder ('t5encoder' or 't5')");
    }

    @Test
    void badInputsAreRejected() throws IOException {
        try (T5EncoderModel m = T5EncoderModel.load(DENSE, F32);
                PointerScope scope = new PointerScope()) {
            Tensor ids = refs.get("t5.input_ids");
            assertThatThrownBy(() -> m.forward(ids.select(0, 0))).hasMessageContaining("input ids must be [B, L]");
            assertThatThrownBy(() -> m.forward(ids, torch.ones(new long[] {2, 3}, new TensorOptions(ScalarType.Long))))
                    .hasMessageContaining("attention mask must be [2, 64]");
            assertThatThrownBy(() -> m.forward(ids.add(new org.bytedeco.pytorch.Scalar(1100))))
                    .hasMessageContaining("token ids must be in [0, 1100)");
        }
        assertThatThrownBy(() -> {
                    try (T5EncoderModel m = T5EncoderModel.load(DENSE, F32)) {
                        m.close();
                        m.forward(refs.get("t5.input_ids"));
                    }
                })
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void traceGivesEachStageInOrderWithTimings() throws IOException {
        try (T5EncoderModel m = T5EncoderModel.load(DENSE, F32);
                PointerScope scope = new PointerScope()) {
            StageTimings timings = new StageTimings();
            Map<String, float[]> values = new LinkedHashMap<>();
            Tensor out = m.forward(refs.get("t5.input_ids"), null, (name, t) -> {
                timings.record(name, t);
                values.put(name, Tensors.toFloats(t));
            });
            List<String> expected = new ArrayList<>(List.of("shared"));
            for (int i = 0; i < m.config().numLayers(); i++) {
                expected.add("encoder.block." + i);
            }
            expected.add("encoder.final_layer_norm");
            assertThat(values.keySet()).containsExactlyElementsOf(expected);
            assertThat(timings.durations().keySet()).containsExactlyElementsOf(expected);
            assertThat(timings.total()).isPositive();
            assertThat(values.get("encoder.final_layer_norm")).containsExactly(Tensors.toFloats(out));
            assertThat(TextRefs.relError(out, refs.get("t5.f32.last_hidden_state")))
                    .isLessThan(F32_TOL);
        }
    }
}
