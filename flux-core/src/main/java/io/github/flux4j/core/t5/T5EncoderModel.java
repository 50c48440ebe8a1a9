package io.github.flux4j.core.t5;

import io.github.flux4j.core.offload.BlockHook;
import io.github.flux4j.core.offload.StreamableBlocks;
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
import java.util.function.BiConsumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The T5 encoder, computing what transformers' {@code T5EncoderModel} computes with its default
 * attention ("sdpa"): token embedding, pre-norm blocks of self-attention (relative position bias
 * from block 0, shared by all blocks, no {@code 1/sqrt(d)} scaling) and gated or plain
 * feed-forward, then a final RMS norm.
 *
 * <pre>{@code
 * try (T5EncoderModel t5 = T5EncoderModel.load(Path.of("t5-v1_1-xxl-encoder-Q8_0.gguf"), LoadOptions.defaults());
 *      PointerScope scope = new PointerScope()) {
 *     Tensor promptEmbeds = t5.forward(TokenIds.batch(ids));   // [1, 512, 4096] bf16
 * }
 * }</pre>
 *
 * <p>FLUX's pipeline passes 512 ids padded with 0 and <em>no attention mask</em>: padding tokens
 * are attended to and change the result, so {@link #forward(Tensor)} does the same. A mask is
 * available for other uses ({@link #forward(Tensor, Tensor)}).
 *
 * <p>Weights come from transformers checkpoints (single or sharded safetensors, with
 * {@code config.json}) or from GGUF files in llama.cpp naming (city96's
 * {@code t5-v1_1-xxl-encoder-gguf}; architecture {@code t5encoder} or {@code t5}). Quantized
 * matrices stay in their blocks and are expanded on every forward; the token embedding and the
 * relative-attention table are expanded once at load, since they are looked up, not multiplied.
 * The model owns its weights and frees them in {@link #close()}. Concurrent forwards are safe.
 */
public final class T5EncoderModel extends LoadedModel {
    static {
        // Block streaming (core.offload, not API) reaches the blocks through this adapter, so the
        // public class implements none of its types.
        StreamableBlocks.register(T5EncoderModel.class, m -> m.streamable);
    }

    private static final Logger LOG = LoggerFactory.getLogger(T5EncoderModel.class);
    private static final Set<ScalarType> ID_TYPES =
            Set.of(ScalarType.Long, ScalarType.Int, ScalarType.Short, ScalarType.Byte, ScalarType.Char);

    private final T5Config config;
    private final Tensor shared; // shared.weight [vocab, dModel]
    private final List<T5Block> blocks; // encoder.block.0 .. numLayers-1
    private volatile @Nullable BlockHook blockHook; // block streaming; null: weights stay where they are
    private final StreamableBlocks streamable = new Streamable();
    private final T5LayerNorm finalLayerNorm; // encoder.final_layer_norm.weight [dModel]

    /** Binds every weight under {@code root} (transformers names, see {@link T5Names}). */
    private T5EncoderModel(T5Config config, WeightPath root) {
        super("T5EncoderModel");
        this.config = config;
        this.shared = root.tensor(T5Names.SHARED, config.vocabSize(), config.dModel());
        WeightPath enc = root.at("encoder");
        List<T5Block> list = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            list.add(new T5Block(config, enc.at("block").at(i), i == 0));
        }
        this.blocks = List.copyOf(list);
        this.finalLayerNorm = new T5LayerNorm(enc.at("final_layer_norm"), config.dModel(), config.layerNormEpsilon());
    }

    // ------------------------------------------------------------------------------ loading

    private static final ModelLoader<T5Config, T5EncoderModel> LOADER = new ModelLoader<>(
            "a T5 encoder",
            List.of("t5encoder", "t5"),
            p -> TextEncoderWeights.open(p, "text_encoder_2"),
            T5EncoderModel::encoderView,
            T5Config::inferFrom,
            T5EncoderModel::describe,
            T5EncoderModel::new);

    /**
     * Opens {@code path} ({@link TextEncoderWeights#open}: a GGUF file, a transformers folder
     * (sharded or not), a FLUX pipeline folder's {@code text_encoder_2}, a single safetensors
     * file), loads the encoder and closes the files.
     *
     * @throws io.github.flux4j.FluxIoException if a file cannot be read
     */
    public static T5EncoderModel load(Path path, LoadOptions options) {
        return LOADER.load(path, options);
    }

    /**
     * Loads from an open source (which stays open), the configuration from its
     * {@code config.json}, a GGUF file's hyper-parameter keys, or the tensor shapes (see
     * {@link T5Config#inferFrom(WeightSource)}).
     *
     * @throws WeightException if a GGUF file's architecture is neither {@code t5encoder} nor
     *                         {@code t5}, or tensors are missing, mis-shaped or (strict)
     *                         unexpected: a {@link io.github.flux4j.core.weights.WeightBindingException}
     *                         lists all of them under transformers' names, with the stored names
     */
    public static T5EncoderModel load(WeightSource source, LoadOptions options) {
        return LOADER.load(source, options);
    }

    /** Loads an encoder of a known configuration from an open source, which stays open. */
    public static T5EncoderModel load(WeightSource source, T5Config config, LoadOptions options) {
        return LOADER.load(source, config, options);
    }

    /** {@code source} under transformers' names; not closed, since closing it would close {@code source}. */
    private static WeightSource encoderView(WeightSource source) {
        RenamedWeightSource view = T5Names.encoderView(source);
        if (!view.hidden().isEmpty()) {
            LOG.debug(
                    "{}: {} tensors not used by a T5 encoder ignored: {}",
                    source.path(),
                    view.hidden().size(),
                    view.hidden().stream().limit(5).map(WeightInfo::name).toList());
        }
        return view;
    }

    private static String describe(WeightSource source, T5Config config) {
        return "a T5 encoder (d_model " + config.dModel() + ", " + config.numLayers() + " layers, " + config.numHeads()
                + " heads)";
    }

    // ------------------------------------------------------------------------------ forward

    /**
     * Encodes token ids with every position attending to every other, padding included: what
     * diffusers' {@code FluxPipeline._get_t5_prompt_embeds} does (it passes no attention mask).
     *
     * @see #forward(Tensor, Tensor)
     */
    public Tensor forward(Tensor inputIds) {
        return forward(inputIds, null);
    }

    /**
     * Encodes token ids.
     *
     * @param inputIds      {@code [B, L]} integer token ids in {@code [0, vocabSize)}, any device
     * @param attentionMask {@code [B, L]}, nonzero where a key may be attended to (a tokenizer's
     *                      mask), or null to attend everywhere (FLUX); as transformers, masked
     *                      keys get the dtype's lowest value added to their scores
     * @return the last hidden state {@code [B, L, dModel]} in the compute dtype on the model's
     *         device, owned by the caller's PointerScope (or the caller without one)
     * @throws IllegalArgumentException if the ids or the mask have the wrong shape, type or range
     */
    public Tensor forward(Tensor inputIds, @Nullable Tensor attentionMask) {
        return forward(inputIds, attentionMask, TensorTrace.NONE);
    }

    /**
     * {@link #forward(Tensor, Tensor)}, each stage's output given to {@code trace} as it is
     * computed, named as the transformers {@code T5EncoderModel} modules whose outputs they equal:
     * {@code shared} (the token embeddings), {@code encoder.block.i} (i = 0 .. layers-1, the
     * hidden states after each block) and {@code encoder.final_layer_norm} (the result). Use a
     * {@link StageTimings} for per-stage times.
     */
    public Tensor forward(Tensor inputIds, @Nullable Tensor attentionMask, TensorTrace trace) {
        checkOpen();
        checkInputs(inputIds, attentionMask);
        try (NoGradGuard noGrad = Torch.noGrad()) {
            return Scopes.scoped(() -> run(inputIds, attentionMask, trace));
        }
    }

    private Tensor run(Tensor inputIds, @Nullable Tensor attentionMask, TensorTrace trace) {
        Device dev = device().toTorch();
        Tensor ids = inputIds.to(dev, ScalarType.Long);
        long b = ids.size(0);
        long len = ids.size(1);
        Tensor bias = blocks.get(0).selfAttention().computeBias(len, len, dev);
        if (attentionMask != null) {
            // create_position_bias_mask: where(mask, position_bias, finfo(dtype).min), per batch row
            Tensor keep = attentionMask.to(dev, ScalarType.Bool).reshape(b, 1, 1, len);
            bias = torch.where(keep, bias, new Scalar(lowest(Torch.dtype(bias))));
        }
        Tensor positionBias = bias;
        try (TensorSlot h = TensorSlot.of(() -> torch.embedding(shared, ids))) {
            trace.record("shared", h.get());
            for (int i = 0; i < blocks.size(); i++) {
                CancellationPoints.reached("T5 encoder layer", i, blocks.size());
                T5Block block = blocks.get(i);
                BlockHook hook = blockHook;
                if (hook != null) {
                    hook.beforeBlock(i);
                }
                try {
                    h.update(x -> block.forward(x, positionBias)); // the block's temporaries and its input are freed
                } finally {
                    if (hook != null) {
                        hook.afterBlock(i);
                    }
                }
                trace.record("encoder.block." + i, h.get());
            }
            Tensor out = finalLayerNorm.forward(h.get());
            trace.record("encoder.final_layer_norm", out);
            return out;
        }
    }

    /** {@code torch.finfo(dtype).min}. */
    private static double lowest(ScalarType t) {
        return switch (t) {
            case Half -> -65504.0;
            case BFloat16 -> -3.3895313892515355e38;
            case Float -> -Float.MAX_VALUE;
            default -> throw new IllegalStateException("unexpected compute dtype " + t);
        };
    }

    private void checkInputs(Tensor ids, @Nullable Tensor mask) {
        if (ids.isNull()) {
            throw new IllegalArgumentException("input ids tensor is freed (null)");
        }
        long[] shape = ids.sizes().vec().get();
        if (shape.length != 2 || shape[0] == 0 || shape[1] == 0) {
            throw new IllegalArgumentException("input ids must be [B, L] with B, L > 0, got " + Arrays.toString(shape));
        }
        if (!ID_TYPES.contains(Torch.dtype(ids))) {
            throw new IllegalArgumentException("input ids must be an integer tensor, got " + Torch.dtype(ids));
        }
        if (mask != null && (mask.isNull() || !Arrays.equals(mask.sizes().vec().get(), shape))) {
            throw new IllegalArgumentException(
                    "attention mask must be " + Arrays.toString(shape) + " like the ids, got "
                            + (mask.isNull()
                                    ? "a freed tensor"
                                    : Arrays.toString(mask.sizes().vec().get())));
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

    // ------------------------------------------------------------------------------ block streaming

    /** Number of encoder blocks ({@code encoder.block.N}). */
    int blockCount() {
        return blocks.size();
    }

    /**
     * Hands every weight tensor of {@code encoder.block.<index>} to {@code visitor}, named below
     * that prefix ({@code layer.0.SelfAttention.q.weight}), except block 0's relative attention
     * bias, which the position bias is computed from before any block runs.
     *
     * @throws IndexOutOfBoundsException if there is no such block
     */
    void forEachBlockParameter(int index, BiConsumer<String, Tensor> visitor) {
        checkOpen();
        if (index < 0 || index >= blocks.size()) {
            throw new IndexOutOfBoundsException("block " + index + " of " + blocks.size());
        }
        String prefix = "encoder.block." + index + ".";
        blocks.get(index).forEachParameter((n, t) -> visitor.accept(prefix + n, t));
    }

    void setBlockHook(@Nullable BlockHook hook) {
        this.blockHook = hook;
    }

    @Nullable
    BlockHook blockHook() {
        return blockHook;
    }

    // ------------------------------------------------------------------------------ accessors

    /** The configuration. */
    public T5Config config() {
        return config;
    }

    /** The blocks (for tests). */
    List<T5Block> blocks() {
        return blocks;
    }

    /** Bytes read from the weight files (quantized size for quantized tensors). */
    public long weightBytes() {
        return sourceBytes();
    }

    @Override
    public String toString() {
        return "T5EncoderModel[d_model " + config.dModel() + ", " + config.numLayers() + " layers, " + device() + ", "
                + dtype() + "]";
    }

    /** What {@link StreamableBlocks#of} hands block streaming for this model. */
    private final class Streamable implements StreamableBlocks {
        @Override
        public int blockCount() {
            return T5EncoderModel.this.blockCount();
        }

        @Override
        public void forEachBlockParameter(int index, BiConsumer<String, Tensor> visitor) {
            T5EncoderModel.this.forEachBlockParameter(index, visitor);
        }

        @Override
        public void setBlockHook(@Nullable BlockHook hook) {
            T5EncoderModel.this.setBlockHook(hook);
        }

        @Override
        public @Nullable BlockHook blockHook() {
            return T5EncoderModel.this.blockHook();
        }
    }
}
