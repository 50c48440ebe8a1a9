package io.github.flux4j.core.clip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.testing.TextRefs.StTensor;
import io.github.flux4j.core.text.HfActivation;
import io.github.flux4j.core.text.TokenIds;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.WeightBindingException;
import io.github.flux4j.core.weights.source.TransformersWeightSource;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ClipTextModel} against transformers' {@code CLIPTextModel} on the tiny CLIP of
 * {@code reference/text/} (hidden 64, 2 layers, 4 heads, 77 positions, the vocabulary of
 * flux-pipeline's tiny CLIP tokenizer). Errors are relative:
 * ‖ours − ref‖₂ / ‖ref‖₂.
 */
class ClipTextModelTest {
    /**
     * float32 against transformers' float32 forward: the same weights and the same ATen ops in the
     * same order (embedding, layer_norm, linear, SDPA, sigmoid), so only the summation order of
     * CPU kernels of LibTorch 2.10 versus torch 2.13 can differ.
     */
    static final double F32_TOL = 1e-5;
    /**
     * bf16 against transformers' bf16 forward: again the same ops, but a kernel that sums in a
     * different order now changes bf16 roundings (1 ulp = 0.4 %) that propagate; observed values
     * are listed in docs/text-encoders.md. The references were made where oneDNN's bf16 matmul ran
     * its AVX512_CORE_BF16 kernels; on a CPU with AMX (and with ONEDNN_MAX_CPU_ISA=AVX2) it sums
     * in another order and the pooled output (2 x 64 values) moves by 3.0e-3, about one bf16 ulp
     * (0 on the same machine with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16, 2026-12-06). bf16 versus
     * float32 differ by ~0.6 %, so a real mistake (wrong op order, missing cast) would still show
     * up above this bound.
     */
    static final double BF16_TOL = 4.5e-3;

    static final LoadOptions F32 = LoadOptions.defaults().withDtype(ComputeDtype.F32);
    static final LoadOptions BF16 = LoadOptions.defaults();
    static final Path CLIP = TextRefs.resource("clip");
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

    @Test
    void configIsReadFromConfigJson() throws IOException {
        ClipTextConfig c = ClipTextConfig.read(CLIP.resolve("config.json"));
        assertThat(c).isEqualTo(new ClipTextConfig(1851, 64, 128, 2, 4, 77, HfActivation.QUICK_GELU, 1e-5, 2));
        assertThat(c.legacyEosPooling()).isTrue();
        assertThat(c.headDim()).isEqualTo(16);
    }

    @Test
    void aFullClipModelConfigGivesItsTextConfig() {
        // transformers' CLIPConfig: the text model's keys under text_config, the rest ignored
        Map<String, Object> text = Map.of("vocab_size", 1851, "hidden_size", 64, "num_attention_heads", 4);
        assertThat(ClipTextConfig.fromJson(
                        Map.of("text_config", text, "vision_config", Map.of("hidden_size", 768), "projection_dim", 64),
                        "clip.json"))
                .isEqualTo(new ClipTextConfig(1851, 64, 2048, 12, 4, 77, HfActivation.QUICK_GELU, 1e-5, 49407));
        assertThatThrownBy(
                        () -> ClipTextConfig.fromJson(Map.of("text_config", Map.of("hidden_size", 64.5)), "clip.json"))
                .isInstanceOf(WeightException.class)
                .hasMessage("clip.json: text_config.hidden_size must be an integer, got 64.5");
        assertThatThrownBy(() -> ClipTextConfig.fromJson(Map.of("text_config", "x"), "clip.json"))
                .isInstanceOf(WeightException.class)
                .hasMessage("clip.json: text_config must be an object, got \"x\"");
    }

    @Test
    void configIsInferredFromShapesWithoutConfigJson() throws IOException {
        try (WeightSource s = TransformersWeightSource.open(CLIP.resolve("model.safetensors"))) {
            // No config.json next to a single file: sizes from shapes, heads = hidden / 64.
            assertThat(ClipTextConfig.inferFrom(ClipNames.textModelView(s)))
                    .isEqualTo(new ClipTextConfig(1851, 64, 128, 2, 1, 77, HfActivation.QUICK_GELU, 1e-5, 2));
        }
    }

    @Test
    void float32MatchesTransformers() throws IOException {
        try (ClipTextModel m = ClipTextModel.load(CLIP, F32);
                PointerScope scope = new PointerScope()) {
            ClipTextOutput out = m.forward(refs.get("clip.input_ids"));
            assertThat(Torch.dtype(out.lastHiddenState())).isEqualTo(ScalarType.Float);
            assertThat(out.lastHiddenState().sizes().vec().get()).containsExactly(2, 77, 64);
            assertThat(out.pooledOutput().sizes().vec().get()).containsExactly(2, 64);
            double last = TextRefs.relError(out.lastHiddenState(), refs.get("clip.f32.last_hidden_state"));
            double pooled = TextRefs.relError(out.pooledOutput(), refs.get("clip.f32.pooled"));
            System.out.printf("CLIP f32 vs transformers: last %.3g, pooled %.3g%n", last, pooled);
            assertThat(last).isLessThan(F32_TOL);
            assertThat(pooled).isLessThan(F32_TOL);
        }
    }

    @Test
    void bfloat16MatchesTransformers() throws IOException {
        try (ClipTextModel m = ClipTextModel.load(CLIP, BF16);
                PointerScope scope = new PointerScope()) {
            ClipTextOutput out = m.forward(refs.get("clip.input_ids"));
            assertThat(Torch.dtype(out.pooledOutput())).isEqualTo(ScalarType.BFloat16);
            double last = TextRefs.relError(out.lastHiddenState(), refs.get("clip.bf16.last_hidden_state"));
            double pooled = TextRefs.relError(out.pooledOutput(), refs.get("clip.bf16.pooled"));
            System.out.printf("CLIP bf16 vs transformers: last %.3g, pooled %.3g%n", last, pooled);
            assertThat(last).isLessThan(BF16_TOL);
            assertThat(pooled).isLessThan(BF16_TOL);
        }
    }

    @Test
    void nonLegacyEosIdPoolsAtTheFirstEosToken() throws IOException {
        ClipTextConfig legacy = ClipTextConfig.read(CLIP.resolve("config.json"));
        ClipTextConfig eos500 = new ClipTextConfig(
                legacy.vocabSize(),
                legacy.hiddenSize(),
                legacy.intermediateSize(),
                legacy.numHiddenLayers(),
                legacy.numAttentionHeads(),
                legacy.maxPositionEmbeddings(),
                legacy.hiddenAct(),
                legacy.layerNormEps(),
                500);
        try (WeightSource s = TransformersWeightSource.open(CLIP);
                ClipTextModel m = ClipTextModel.load(s, eos500, F32);
                PointerScope scope = new PointerScope()) {
            Tensor pooled = m.forward(refs.get("clip.input_ids")).pooledOutput();
            assertThat(TextRefs.relError(pooled, refs.get("clip.f32.pooled_eos500")))
                    .isLessThan(F32_TOL);
        }
    }

    @Test
    void shorterInputsAndIntIdsWork() throws IOException {
        try (ClipTextModel m = ClipTextModel.load(CLIP, F32);
                PointerScope scope = new PointerScope()) {
            // Causal attention: a prefix of the input gives the same hidden states as the full input.
            Tensor ids = refs.get("clip.input_ids");
            ClipTextOutput full = m.forward(ids);
            ClipTextOutput prefix = m.forward(ids.narrow(1, 0, 20).to(ScalarType.Int));
            assertThat(TextRefs.maxAbsError(
                            prefix.lastHiddenState(), full.lastHiddenState().narrow(1, 0, 20)))
                    .isLessThan(1e-5);
            ClipTextOutput single = m.forward(TokenIds.batch(new int[] {1849, 5, 1850}));
            assertThat(single.pooledOutput().sizes().vec().get()).containsExactly(1, 64);
        }
    }

    @Test
    void badInputsAreRejected() throws IOException {
        try (ClipTextModel m = ClipTextModel.load(CLIP, F32);
                PointerScope scope = new PointerScope()) {
            assertThatThrownBy(() -> m.forward(TokenIds.batch(new int[78])))
                    .hasMessageContaining("sequence length 78 exceeds max_position_embeddings 77");
            assertThatThrownBy(() -> m.forward(TokenIds.batch(new int[] {1, 1851})))
                    .hasMessageContaining("token ids must be in [0, 1851), got 1851");
            assertThatThrownBy(() -> m.forward(TokenIds.batch(new int[] {1, 2}).to(ScalarType.Float)))
                    .hasMessageContaining("integer tensor");
        }
    }

    @Test
    void tensorsOutsideTheTextModelAreIgnoredAndAPrefixIsStripped(@TempDir Path dir) throws IOException {
        Map<String, StTensor> stored = TextRefs.readSafetensors(CLIP.resolve("model.safetensors"));
        // transformers 5 saves bare names (embeddings.*); transformers 4 and SD-style checkpoints
        // nest them under text_model. and a checkpoint prefix.
        Map<String, StTensor> combined = new LinkedHashMap<>();
        stored.forEach((name, t) -> combined.put("cond_stage_model.transformer.text_model." + name, t));
        combined.put(
                "cond_stage_model.transformer.text_model.embeddings.position_ids",
                new StTensor("I64", new long[] {1, 2}, new byte[16]));
        combined.put("logit_scale", new StTensor("F32", new long[] {}, new byte[4]));
        combined.put("vision_model.post_layernorm.weight", new StTensor("F32", new long[] {2}, new byte[8]));
        Path file = dir.resolve("clip_l.safetensors");
        TextRefs.writeSafetensors(file, combined);
        try (WeightSource s = TransformersWeightSource.open(file);
                ClipTextModel m = ClipTextModel.load(s, ClipTextConfig.read(CLIP.resolve("config.json")), F32);
                PointerScope scope = new PointerScope()) {
            assertThat(m.leftovers()).isEmpty();
            Tensor pooled = m.forward(refs.get("clip.input_ids")).pooledOutput();
            assertThat(TextRefs.relError(pooled, refs.get("clip.f32.pooled"))).isLessThan(F32_TOL);
        }
    }

    @Test
    void missingAndMisShapedTensorsAreNamed(@TempDir Path dir) throws IOException {
        Map<String, StTensor> stored = new LinkedHashMap<>(TextRefs.readSafetensors(CLIP.resolve("model.safetensors")));
        stored.remove("encoder.layers.1.mlp.fc2.bias");
        StTensor q = stored.get("encoder.layers.0.self_attn.q_proj.weight");
        stored.put("encoder.layers.0.self_attn.q_proj.weight", new StTensor(q.dtype(), new long[] {32, 128}, q.data()));
        stored.put("encoder.layers.2.mlp.fc1.bias", new StTensor("F32", new long[] {1}, new byte[4]));
        Path file = dir.resolve("model.safetensors");
        TextRefs.writeSafetensors(file, stored);
        Files.copy(CLIP.resolve("config.json"), dir.resolve("config.json"));
        assertThatThrownBy(() -> ClipTextModel.load(dir, F32))
                .isInstanceOf(WeightBindingException.class)
                .satisfies(e -> {
                    WeightBindingException w = (WeightBindingException) e;
                    assertThat(w.problems(WeightBindingException.Kind.MISSING))
                            .extracting(WeightBindingException.Problem::name)
                            .containsExactly("text_model.encoder.layers.1.mlp.fc2.bias");
                    assertThat(w.problems(WeightBindingException.Kind.SHAPE))
                            .extracting(WeightBindingException.Problem::name)
                            .containsExactly("text_model.encoder.layers.0.self_attn.q_proj.weight");
                    assertThat(w.problems(WeightBindingException.Kind.UNEXPECTED))
                            .extracting(WeightBindingException.Problem::name)
                            .containsExactly("text_model.encoder.layers.2.mlp.fc1.bias");
                })
                .hasMessageContaining("expected [64, 64], found BF16 [32, 128]");
    }

    @Test
    void aGgufOfAnotherArchitectureIsRefused() {
        Path t5 = TextRefs.resource("t5-gguf/t5-tiny-Q8_0.gguf");
        assertThatThrownBy(() -> ClipTextModel.load(t5, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("is a 't5encoder' model (general.architecture), not a CLIP text model");
    }

    @Test
    void traceGivesEachStageInOrder() throws IOException {
        try (ClipTextModel m = ClipTextModel.load(CLIP, F32);
                PointerScope scope = new PointerScope()) {
            List<String> names = new ArrayList<>();
            Map<String, float[]> values = new LinkedHashMap<>();
            ClipTextOutput out = m.forward(refs.get("clip.input_ids"), (name, t) -> {
                names.add(name);
                values.put(name, Tensors.toFloats(t));
            });
            assertThat(names)
                    .containsExactly(
                            "embeddings", "encoder.layers.0", "encoder.layers.1", "final_layer_norm", "pooler_output");
            assertThat(values.get("final_layer_norm")).containsExactly(Tensors.toFloats(out.lastHiddenState()));
            assertThat(values.get("pooler_output")).containsExactly(Tensors.toFloats(out.pooledOutput()));
            assertThat(TextRefs.relError(out.pooledOutput(), refs.get("clip.f32.pooled")))
                    .isLessThan(F32_TOL);
        }
    }
}
