package io.github.flux4j.core.t5;

import static java.util.Objects.requireNonNullElse;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.github.flux4j.core.json.ConfigReader;
import io.github.flux4j.core.text.HfActivation;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.gguf.GgufMetadata;
import io.github.flux4j.gguf.GgufValue;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The hyper-parameters of a T5 encoder, as transformers' {@code T5Config} names them.
 *
 * @param vocabSize                    {@code vocab_size}: rows of {@code shared}
 * @param dModel                       {@code d_model}
 * @param dKv                          {@code d_kv}: width of one head
 * @param dFf                          {@code d_ff}: the feed-forward width
 * @param numLayers                    {@code num_layers}
 * @param numHeads                     {@code num_heads}
 * @param relativeAttentionNumBuckets  {@code relative_attention_num_buckets}
 * @param relativeAttentionMaxDistance {@code relative_attention_max_distance}
 * @param layerNormEpsilon             {@code layer_norm_epsilon}
 * @param denseActFn                   the feed-forward activation (from {@code feed_forward_proj})
 * @param gatedAct                     whether the feed-forward is gated ({@code wi_0}, {@code wi_1})
 *                                     rather than plain ({@code wi})
 */
public record T5Config(
        int vocabSize,
        int dModel,
        int dKv,
        int dFf,
        int numLayers,
        int numHeads,
        int relativeAttentionNumBuckets,
        int relativeAttentionMaxDistance,
        double layerNormEpsilon,
        HfActivation denseActFn,
        boolean gatedAct) {

    private static final Pattern BLOCK = Pattern.compile("^encoder\\.block\\.(\\d+)\\.");
    private static final ConfigReader CONFIGS = ConfigReader.of((source, problem, cause) -> cause == null
            ? new WeightException(source + ": " + problem)
            : new WeightException(source + ": " + problem, cause));

    /**
     * Validates the values.
     *
     * @throws IllegalArgumentException if a size is not positive
     */
    public T5Config {
        if (vocabSize <= 0
                || dModel <= 0
                || dKv <= 0
                || dFf <= 0
                || numLayers <= 0
                || numHeads <= 0
                || relativeAttentionNumBuckets <= 1
                || relativeAttentionMaxDistance <= 0) {
            throw new IllegalArgumentException("T5 config sizes must be positive: vocab " + vocabSize + ", d_model "
                    + dModel
                    + ", d_kv " + dKv + ", d_ff " + dFf + ", layers " + numLayers + ", heads " + numHeads + ", buckets "
                    + relativeAttentionNumBuckets + ", max distance " + relativeAttentionMaxDistance);
        }
        if (!(layerNormEpsilon > 0)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be positive, got " + layerNormEpsilon);
        }
        Objects.requireNonNull(denseActFn, "denseActFn");
    }

    /** FLUX.1's {@code text_encoder_2}: google/t5-v1_1-xxl's encoder (config.json of FLUX.1-dev). */
    public static T5Config v11Xxl() {
        return new T5Config(32128, 4096, 64, 10240, 24, 64, 32, 128, 1e-6, HfActivation.GELU_NEW, true);
    }

    /** Width of the attention projections: {@code numHeads * dKv} (need not equal {@code dModel}). */
    public int innerDim() {
        return numHeads * dKv;
    }

    /**
     * Reads a parsed {@code config.json} of a T5 model (see {@link #read(Path)}).
     *
     * @param json  the JSON object, as {@link WeightSource#config()} holds it
     * @param where what to name in messages (the file)
     * @throws WeightException naming {@code where} and the key if a value has the wrong type or is
     *                         not supported
     */
    public static T5Config fromJson(Map<String, ?> json, String where) {
        return CONFIGS.bind(json, where, T5Config.class);
    }

    /**
     * Reads a {@code config.json} of a T5 model, with transformers' defaults for absent keys.
     * As in {@code T5Config.__post_init__}, the activation and gating come from
     * {@code feed_forward_proj} ({@code "gated-gelu"} means {@code gelu_new}), not from the
     * {@code dense_act_fn} / {@code is_gated_act} keys the file may also carry.
     *
     * @throws WeightException naming the file and the key if the content is not valid JSON, or a
     *                         value has the wrong type or is not supported
     * @throws io.github.flux4j.FluxIoException if the file cannot be read
     */
    public static T5Config read(Path configJson) {
        return CONFIGS.read(configJson, T5Config.class);
    }

    /** The keys of transformers' {@code T5Config} that the encoder uses, with its defaults. */
    @JsonCreator
    private static T5Config fromKeys(
            @JsonProperty("vocab_size") @Nullable Integer vocabSize,
            @JsonProperty("d_model") @Nullable Integer dModel,
            @JsonProperty("d_kv") @Nullable Integer dKv,
            @JsonProperty("d_ff") @Nullable Integer dFf,
            @JsonProperty("num_layers") @Nullable Integer numLayers,
            @JsonProperty("num_heads") @Nullable Integer numHeads,
            @JsonProperty("relative_attention_num_buckets") @Nullable Integer relativeAttentionNumBuckets,
            @JsonProperty("relative_attention_max_distance") @Nullable Integer relativeAttentionMaxDistance,
            @JsonProperty("layer_norm_epsilon") @Nullable Double layerNormEpsilon,
            @JsonProperty("feed_forward_proj") @Nullable String feedForwardProj) {
        String proj = requireNonNullElse(feedForwardProj, "relu");
        String[] parts = proj.split("-");
        if (parts.length > 2 || (parts.length == 2 && !parts[0].equals("gated"))) {
            throw new IllegalArgumentException("feed_forward_proj '" + proj + "' is not 'gated-ACT' or 'ACT'");
        }
        boolean gated = parts.length == 2;
        HfActivation act = proj.equals("gated-gelu")
                ? HfActivation.GELU_NEW
                : HfActivation.fromConfigName(parts[parts.length - 1]);
        return new T5Config(
                requireNonNullElse(vocabSize, 32128),
                requireNonNullElse(dModel, 512),
                requireNonNullElse(dKv, 64),
                requireNonNullElse(dFf, 2048),
                requireNonNullElse(numLayers, 6),
                requireNonNullElse(numHeads, 8),
                requireNonNullElse(relativeAttentionNumBuckets, 32),
                requireNonNullElse(relativeAttentionMaxDistance, 128),
                requireNonNullElse(layerNormEpsilon, 1e-6),
                act,
                gated);
    }

    /**
     * The configuration of a checkpoint under transformers' names (see {@link T5Names#encoderView}):
     * its {@code config.json} when it has one, otherwise inferred from the tensor shapes and, for a
     * GGUF file, llama.cpp's hyper-parameter keys in its {@linkplain WeightSource#metadata()
     * metadata} ({@code t5encoder.embedding_length}, {@code .feed_forward_length},
     * {@code .block_count}, {@code .attention.head_count}, {@code .attention.key_length},
     * {@code .attention.layer_norm_rms_epsilon}, {@code .attention.relative_buckets_count}, under
     * the file's architecture) where present. Shapes give every size; the relative-attention
     * maximum distance (128), the epsilon (1e-6) and the activation ({@code gelu_new} when gated,
     * as T5 v1.1; {@code relu} otherwise, as the original T5) are T5's defaults.
     *
     * @throws WeightException if the tensors needed for the inference are missing or inconsistent
     */
    public static T5Config inferFrom(WeightSource source) {
        if (!source.config().isEmpty()) {
            return fromJson(source.config(), source.path() + " config.json");
        }
        return fromShapes(source, source.metadata());
    }

    private static T5Config fromShapes(WeightSource s, GgufMetadata md) {
        WeightInfo shared = s.find(T5Names.SHARED)
                .orElseThrow(() -> new WeightException(s.path() + " has no " + T5Names.SHARED
                        + " (token_embd in GGUF) and no config.json: not a T5 encoder"));
        WeightInfo q = s.tensor("encoder.block.0.layer.0.SelfAttention.q.weight");
        WeightInfo rel = s.tensor(T5Names.RELATIVE_ATTENTION_BIAS);
        Optional<WeightInfo> wi0 = s.find("encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
        WeightInfo wi = wi0.orElseGet(() -> s.tensor("encoder.block.0.layer.1.DenseReluDense.wi.weight"));
        if (shared.rank() != 2 || q.rank() != 2 || rel.rank() != 2 || wi.rank() != 2) {
            throw new WeightException(
                    s.path() + ": T5 weights must be 2-D: " + shared + ", " + q + ", " + rel + ", " + wi);
        }
        int layers = 0;
        for (WeightInfo t : s.tensors()) {
            Matcher m = BLOCK.matcher(t.name());
            if (m.find()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        String a = s.architecture().orElse("t5encoder");
        int dModel = key(md, a + ".embedding_length", Math.toIntExact(shared.dim(1)));
        int heads = key(md, a + ".attention.head_count", Math.toIntExact(rel.dim(1)));
        long inner = q.dim(0);
        if (inner % heads != 0) {
            throw new WeightException(s.path() + ": q has " + inner + " rows, not a multiple of " + heads + " heads");
        }
        int dKv = key(md, a + ".attention.key_length", Math.toIntExact(inner / heads));
        int dFf = key(md, a + ".feed_forward_length", Math.toIntExact(wi.dim(0)));
        int blocks = key(md, a + ".block_count", layers);
        int buckets = key(md, a + ".attention.relative_buckets_count", Math.toIntExact(rel.dim(0)));
        double eps = decimal(
                md, a + ".attention.layer_norm_rms_epsilon", decimal(md, a + ".attention.layer_norm_epsilon", 1e-6));
        boolean gated = wi0.isPresent();
        return new T5Config(
                Math.toIntExact(shared.dim(0)),
                dModel,
                dKv,
                dFf,
                blocks,
                heads,
                buckets,
                128,
                eps,
                gated ? HfActivation.GELU_NEW : HfActivation.RELU,
                gated);
    }

    /**
     * A number key; a FLOAT32 value is read as the shortest decimal that rounds to it (1e-6, not
     * 9.99999997e-7), which is what the converter wrote from the model's config.
     */
    private static double decimal(GgufMetadata md, String key, double fallback) {
        Optional<GgufValue> v = md.find(key);
        if (v.isEmpty()) {
            return fallback;
        }
        if (v.get() instanceof GgufValue.Float32 f) {
            return Double.parseDouble(Float.toString(f.value()));
        }
        return md.findDouble(key).orElse(fallback);
    }

    private static int key(GgufMetadata md, String key, int fallback) {
        return md.findLong(key).isPresent() ? Math.toIntExact(md.findLong(key).getAsLong()) : fallback;
    }
}
