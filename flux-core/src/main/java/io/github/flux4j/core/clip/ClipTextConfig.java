package io.github.flux4j.core.clip;

import static java.util.Objects.requireNonNullElse;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.github.flux4j.core.json.ConfigReader;
import io.github.flux4j.core.text.HfActivation;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The hyper-parameters of a CLIP text model, as transformers' {@code CLIPTextConfig} names them.
 *
 * @param vocabSize             {@code vocab_size}: rows of the token embedding
 * @param hiddenSize            {@code hidden_size}
 * @param intermediateSize      {@code intermediate_size}: the MLP width
 * @param numHiddenLayers       {@code num_hidden_layers}
 * @param numAttentionHeads     {@code num_attention_heads}; divides {@code hiddenSize}
 * @param maxPositionEmbeddings {@code max_position_embeddings}: the longest input (77)
 * @param hiddenAct             {@code hidden_act}
 * @param layerNormEps          {@code layer_norm_eps}
 * @param eosTokenId            {@code eos_token_id}; the value 2 selects transformers' legacy
 *                              pooling at the position of the largest id (see
 *                              {@link #legacyEosPooling()})
 */
public record ClipTextConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int maxPositionEmbeddings,
        HfActivation hiddenAct,
        double layerNormEps,
        int eosTokenId) {

    /** The head width FLUX-era CLIP text models all use, assumed when a checkpoint has no config. */
    public static final int DEFAULT_HEAD_DIM = 64;

    private static final Pattern LAYER = Pattern.compile("^text_model\\.encoder\\.layers\\.(\\d+)\\.");
    private static final ConfigReader CONFIGS = ConfigReader.of((source, problem, cause) -> cause == null
            ? new WeightException(source + ": " + problem)
            : new WeightException(source + ": " + problem, cause));

    /**
     * Validates the values.
     *
     * @throws IllegalArgumentException if a size is not positive or the heads do not divide the
     *                                  hidden size
     */
    public ClipTextConfig {
        if (vocabSize <= 0
                || hiddenSize <= 0
                || intermediateSize <= 0
                || numHiddenLayers <= 0
                || numAttentionHeads <= 0
                || maxPositionEmbeddings <= 0) {
            throw new IllegalArgumentException("CLIP text config sizes must be positive: vocab " + vocabSize
                    + ", hidden "
                    + hiddenSize + ", intermediate " + intermediateSize + ", layers " + numHiddenLayers + ", heads "
                    + numAttentionHeads + ", positions " + maxPositionEmbeddings);
        }
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException(
                    "hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numAttentionHeads);
        }
        if (!(layerNormEps > 0)) {
            throw new IllegalArgumentException("layer_norm_eps must be positive, got " + layerNormEps);
        }
        java.util.Objects.requireNonNull(hiddenAct, "hiddenAct");
    }

    /** FLUX.1's {@code text_encoder}: openai/clip-vit-large-patch14's text tower (config.json of FLUX.1-dev). */
    public static ClipTextConfig clipVitLargePatch14() {
        return new ClipTextConfig(49408, 768, 3072, 12, 12, 77, HfActivation.QUICK_GELU, 1e-5, 2);
    }

    /** Width of one attention head. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /**
     * Whether the pooled output is taken at the first position of the largest token id (true for
     * the legacy {@code eos_token_id} 2 that OpenAI's configs, FLUX's included, carry; the
     * end-of-text token is the largest id of their vocabulary) rather than at the first
     * {@code eos_token_id}. This is transformers' rule in {@code CLIPTextTransformer.forward}.
     */
    public boolean legacyEosPooling() {
        return eosTokenId == 2;
    }

    /**
     * Reads a parsed {@code config.json} of a {@code CLIPTextModel} (see {@link #read(Path)}).
     *
     * @param json  the JSON object, as {@link WeightSource#config()} holds it
     * @param where what to name in messages (the file)
     * @throws WeightException naming {@code where} and the key if a value has the wrong type or the
     *                         values are inconsistent
     */
    public static ClipTextConfig fromJson(Map<String, ?> json, String where) {
        return CONFIGS.bind(json, where, ClipTextConfig.class);
    }

    /**
     * Reads a {@code config.json} of a {@code CLIPTextModel} (or of a full {@code CLIPModel}, whose
     * {@code text_config} is used), with transformers' defaults for absent keys.
     *
     * @throws WeightException naming the file and the key if the content is not valid JSON, or a
     *                         value has the wrong type or the values are inconsistent
     * @throws io.github.flux4j.FluxIoException if the file cannot be read
     */
    public static ClipTextConfig read(Path configJson) {
        return CONFIGS.read(configJson, ClipTextConfig.class);
    }

    /**
     * The keys of transformers' {@code CLIPTextConfig}, with its defaults; a full {@code CLIPModel}'s
     * {@code config.json} has them under {@code text_config}, which then stands for the whole file.
     */
    @JsonCreator
    private static ClipTextConfig fromKeys(
            @JsonProperty("vocab_size") @Nullable Integer vocabSize,
            @JsonProperty("hidden_size") @Nullable Integer hiddenSize,
            @JsonProperty("intermediate_size") @Nullable Integer intermediateSize,
            @JsonProperty("num_hidden_layers") @Nullable Integer numHiddenLayers,
            @JsonProperty("num_attention_heads") @Nullable Integer numAttentionHeads,
            @JsonProperty("max_position_embeddings") @Nullable Integer maxPositionEmbeddings,
            @JsonProperty("hidden_act") @Nullable String hiddenAct,
            @JsonProperty("layer_norm_eps") @Nullable Double layerNormEps,
            @JsonProperty("eos_token_id") @Nullable Integer eosTokenId,
            @JsonProperty("text_config") @Nullable ClipTextConfig textConfig) {
        if (textConfig != null) {
            return textConfig;
        }
        return new ClipTextConfig(
                requireNonNullElse(vocabSize, 49408),
                requireNonNullElse(hiddenSize, 512),
                requireNonNullElse(intermediateSize, 2048),
                requireNonNullElse(numHiddenLayers, 12),
                requireNonNullElse(numAttentionHeads, 8),
                requireNonNullElse(maxPositionEmbeddings, 77),
                HfActivation.fromConfigName(requireNonNullElse(hiddenAct, "quick_gelu")),
                requireNonNullElse(layerNormEps, 1e-5),
                requireNonNullElse(eosTokenId, 49407));
    }

    /**
     * The configuration of a checkpoint: its {@code config.json} when the source has one,
     * otherwise inferred from tensor shapes (names as {@link ClipTextModel} binds them, under
     * {@code text_model.}). Shapes give every size but the head count, which is taken as
     * {@code hidden / 64} ({@link #DEFAULT_HEAD_DIM}, true of CLIP-B/L/bigG); the activation is
     * {@code quick_gelu}, the epsilon 1e-5 and the pooling legacy (eos id 2), as in OpenAI's CLIP.
     *
     * @throws WeightException if the tensors needed for the inference are missing or inconsistent
     */
    public static ClipTextConfig inferFrom(WeightSource source) {
        if (!source.config().isEmpty()) {
            return fromJson(source.config(), source.path() + " config.json");
        }
        WeightInfo tok = source.find("text_model.embeddings.token_embedding.weight")
                .orElseThrow(
                        () -> new WeightException(
                                source.path()
                                        + " has no text_model.embeddings.token_embedding.weight and no config.json: not a CLIP text model"));
        WeightInfo pos = source.tensor("text_model.embeddings.position_embedding.weight");
        if (tok.rank() != 2 || pos.rank() != 2) {
            throw new WeightException(source.path() + ": CLIP embeddings must be 2-D, got " + tok + " and " + pos);
        }
        int layers = 0;
        for (WeightInfo t : source.tensors()) {
            Matcher m = LAYER.matcher(t.name());
            if (m.find()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        if (layers == 0) {
            throw new WeightException(source.path() + " has no text_model.encoder.layers.N tensors");
        }
        WeightInfo fc1 = source.tensor("text_model.encoder.layers.0.mlp.fc1.weight");
        int hidden = Math.toIntExact(tok.dim(1));
        if (hidden % DEFAULT_HEAD_DIM != 0) {
            throw new WeightException(source.path() + ": hidden size " + hidden + " is not a multiple of "
                    + DEFAULT_HEAD_DIM + "; the head count cannot be inferred, pass a config");
        }
        return new ClipTextConfig(
                Math.toIntExact(tok.dim(0)),
                hidden,
                Math.toIntExact(fc1.dim(0)),
                layers,
                hidden / DEFAULT_HEAD_DIM,
                Math.toIntExact(pos.dim(0)),
                HfActivation.QUICK_GELU,
                1e-5,
                2);
    }
}
