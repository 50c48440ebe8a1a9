package io.github.flux4j.core.clip;

import io.github.flux4j.core.text.TextEncoderWeights;
import io.github.flux4j.core.torch.CancellationPoints;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.StageTimings;
import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.torch.TensorTrace;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.LoadedModel;
import io.github.flux4j.core.weights.binding.ModelLoader;
import io.github.flux4j.core.weights.binding.WeightPath;
import io.github.flux4j.core.weights.source.RenamedWeightSource;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CLIP text encoder, computing what transformers' {@code CLIPTextModel} computes with its
 * default attention ("sdpa"): token and position embeddings, pre-LayerNorm layers with causal
 * self-attention, a final LayerNorm, and the pooled vector at each row's end-of-text position.
 *
 * <pre>{@code
 * try (ClipTextModel clip = ClipTextModel.load(Path.of("FLUX.1-dev/text_encoder"), LoadOptions.defaults());
 *      PointerScope scope = new PointerScope()) {
 *     ClipTextOutput out = clip.forward(TokenIds.batch(ids));   // ids: 77 CLIP token ids
 *     Tensor pooled = out.pooledOutput();                        // [1, 768], FLUX's pooled_prompt_embeds
 * }
 * }</pre>
 *
 * <p>FLUX calls it with 77 ids padded with the end-of-text token and no attention mask, and takes
 * {@code pooler_output} in the encoder's dtype (bf16). The model owns its weights and frees them
 * in {@link #close()}; each forward runs in its own PointerScope. Concurrent forwards are safe.
 */
public final class ClipTextModel extends LoadedModel {
    private static final Logger LOG = LoggerFactory.getLogger(ClipTextModel.class);
    private static final Set<ScalarType> ID_TYPES =
            Set.of(ScalarType.Long, ScalarType.Int, ScalarType.Short, ScalarType.Byte, ScalarType.Char);

    private final ClipTextConfig config;
    private final ClipTextEmbeddings embeddings; // text_model.embeddings.{token,position}_embedding
    private final List<ClipEncoderLayer> layers; // text_model.encoder.layers.0 .. numHiddenLayers-1
    private final LayerNorm finalLayerNorm; // text_model.final_layer_norm.{weight,bias} [hidden]

    /** Binds every weight under {@code root} (names as {@link ClipNames} presents them). */
    private ClipTextModel(ClipTextConfig config, WeightPath root) {
        super("ClipTextModel");
        this.config = config;
        WeightPath w = root.at("text_model");
        this.embeddings = new ClipTextEmbeddings(config, w.at("embeddings"));
        List<ClipEncoderLayer> list = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            list.add(new ClipEncoderLayer(config, w.at("encoder").at("layers").at(i)));
        }
        this.layers = List.copyOf(list);
        this.finalLayerNorm = new LayerNorm(w.at("final_layer_norm"), config.hiddenSize(), config.layerNormEps());
    }

    // ------------------------------------------------------------------------------ loading

    private static final ModelLoader<ClipTextConfig, ClipTextModel> LOADER = new ModelLoader<>(
            "a CLIP text model",
            List.of("clip"),
            p -> TextEncoderWeights.open(p, "text_encoder"),
            ClipTextModel::textModelView,
            ClipTextConfig::inferFrom,
            ClipTextModel::describe,
            ClipTextModel::new);

    /**
     * Opens {@code path} ({@link TextEncoderWeights#open}: a transformers folder, a FLUX pipeline
     * folder's {@code text_encoder}, a single safetensors file, a GGUF file with transformers
     * names), loads the model and closes the files.
     *
     * @throws io.github.flux4j.FluxIoException if a file cannot be read
     */
    public static ClipTextModel load(Path path, LoadOptions options) {
        return LOADER.load(path, options);
    }

    /**
     * Loads from an open source, the configuration from its {@code config.json} or inferred from
     * the shapes ({@link ClipTextConfig#inferFrom}). The source stays open.
     *
     * @throws WeightException if the source is a GGUF file of another architecture, or tensors
     *                         are missing, mis-shaped or (strict) unexpected: a
     *                         {@link io.github.flux4j.core.weights.WeightBindingException} lists all
     */
    public static ClipTextModel load(WeightSource source, LoadOptions options) {
        return LOADER.load(source, options);
    }

    /**
     * Loads a model of a known configuration from an open source, which stays open. Tensors
     * outside {@code text_model.} are ignored (see {@link ClipNames#textModelName}); all others
     * must be exactly the model's.
     */
    public static ClipTextModel load(WeightSource source, ClipTextConfig config, LoadOptions options) {
        return LOADER.load(source, config, options);
    }

    /** {@code source} without the tensors outside the text model; not closed, since closing it would close {@code source}. */
    private static WeightSource textModelView(WeightSource source) {
        RenamedWeightSource view = ClipNames.textModelView(source);
        if (!view.hidden().isEmpty()) {
            LOG.debug(
                    "{}: {} tensors outside the CLIP text model ignored: {}",
                    source.path(),
                    view.hidden().size(),
                    view.hidden().stream().limit(5).map(WeightInfo::name).toList());
        }
        return view;
    }

    private static String describe(WeightSource source, ClipTextConfig config) {
        return "a CLIP text model (hidden " + config.hiddenSize() + ", " + config.numHiddenLayers() + " layers)";
    }

    // ------------------------------------------------------------------------------ forward

    /**
     * Encodes token ids.
     *
     * @param inputIds {@code [B, L]} integer token ids, {@code L <= maxPositionEmbeddings}, each
     *                 in {@code [0, vocabSize)}; on any device (moved to the model's)
     * @return the final hidden states and the pooled vectors, in the compute dtype on the model's
     *         device, owned by the caller's PointerScope (or the caller without one)
     * @throws IllegalArgumentException if the ids have the wrong rank, type, length or range
     */
    public ClipTextOutput forward(Tensor inputIds) {
        return forward(inputIds, TensorTrace.NONE);
    }

    /**
     * {@link #forward(Tensor)}, each stage's output given to {@code trace} as it is computed,
     * named as the transformers {@code CLIPTextModel} modules (under {@code text_model}) whose
     * outputs they equal: {@code embeddings}, {@code encoder.layers.i} (i = 0 .. layers-1),
     * {@code final_layer_norm} (the last hidden state) and {@code pooler_output}. Use a
     * {@link StageTimings} for per-stage times.
     */
    public ClipTextOutput forward(Tensor inputIds, TensorTrace trace) {
        checkOpen();
        checkIds(inputIds);
        Tensor last;
        Tensor pooled;
        try (NoGradGuard noGrad = Torch.noGrad();
                PointerScope scope = new PointerScope()) {
            Tensor ids = inputIds.to(device().toTorch(), ScalarType.Long);
            try (TensorSlot h = TensorSlot.of(() -> embeddings.forward(ids))) {
                trace.record("embeddings", h.get());
                for (int i = 0; i < layers.size(); i++) {
                    CancellationPoints.reached("CLIP text encoder layer", i, layers.size());
                    h.update(layers.get(i)::forward); // the layer's temporaries and its input are freed
                    trace.record("encoder.layers." + i, h.get());
                }
                last = finalLayerNorm.forward(h.get());
            }
            trace.record("final_layer_norm", last);
            pooled = pool(last, ids);
            trace.record("pooler_output", pooled);
            // One reference more than `scope` holds, so both survive its close.
            Scopes.keep(last);
            Scopes.keep(pooled);
        }
        return new ClipTextOutput(Scopes.handOver(last), Scopes.handOver(pooled));
    }

    /** transformers' {@code pooler_output}: the hidden state at each row's end-of-text position. */
    private Tensor pool(Tensor last, Tensor ids) {
        // Cast to int32 as transformers does (an ONNX workaround that does not change argmax).
        Tensor ints = ids.to(ScalarType.Int);
        Tensor position = config.legacyEosPooling()
                ? torch.argmax(ints, new LongOptional(-1), false) // first largest id
                : torch.argmax(
                        ints.eq(new Scalar(config.eosTokenId())).to(ScalarType.Int), new LongOptional(-1), false);
        long b = last.size(0);
        Tensor index = position.view(b, 1, 1).expand(b, 1, last.size(2));
        return torch.gather(last, 1, index).squeeze(1);
    }

    private void checkIds(Tensor ids) {
        if (ids.isNull()) {
            throw new IllegalArgumentException("input ids tensor is freed (null)");
        }
        if (ids.dim() != 2 || ids.size(1) == 0 || ids.size(0) == 0) {
            throw new IllegalArgumentException("input ids must be [B, L] with B, L > 0, got "
                    + Arrays.toString(ids.sizes().vec().get()));
        }
        if (!ID_TYPES.contains(Torch.dtype(ids))) {
            throw new IllegalArgumentException("input ids must be an integer tensor, got " + Torch.dtype(ids));
        }
        if (ids.size(1) > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("sequence length " + ids.size(1) + " exceeds max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
        try (PointerScope scope = new PointerScope()) {
            long min = ids.min().item_long();
            long max = ids.max().item_long();
            if (min < 0 || max >= config.vocabSize()) {
                throw new IllegalArgumentException(
                        "token ids must be in [0, " + config.vocabSize() + "), got " + (min < 0 ? min : max));
            }
        }
    }

    // ------------------------------------------------------------------------------ accessors

    /** The configuration. */
    public ClipTextConfig config() {
        return config;
    }

    /** Bytes read from the weight files. */
    public long weightBytes() {
        return sourceBytes();
    }

    @Override
    public String toString() {
        return "ClipTextModel[hidden " + config.hiddenSize() + ", " + config.numHiddenLayers() + " layers, " + device()
                + ", " + dtype() + "]";
    }
}
