package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.offload.BlockHook;
import io.github.flux4j.core.offload.StreamableBlocks;
import io.github.flux4j.core.torch.CancellationPoints;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.LoadedModel;
import io.github.flux4j.core.weights.binding.ModelLoader;
import io.github.flux4j.core.weights.binding.WeightPath;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * The FLUX.1 rectified-flow transformer (BFL {@code Flux}, diffusers
 * {@code FluxTransformer2DModel}): predicts the velocity of packed latents given text tokens,
 * a pooled text vector, the timestep and (dev) the guidance value.
 *
 * <pre>{@code
 * try (FluxTransformer model = GgufTransformer.load(Path.of("flux1-dev-Q4_K_S.gguf"),
 *              LoadOptions.defaults().withDevice(FluxDevice.cuda(0)));
 *      PointerScope scope = new PointerScope()) {
 *     Tensor v = model.forward(latents, imgIds, t5, txtIds, timestep, clipPooled, guidance);
 * }
 * }</pre>
 *
 * <p>It computes what diffusers' {@code FluxTransformer2DModel.forward} computes, op for op (see
 * {@code docs/transformer.md}). The model owns all its weights (dense or GGUF-quantized linears,
 * norm scales) and frees them in {@link #close()}. Each forward runs in its own
 * {@link org.bytedeco.javacpp.PointerScope}: temporaries are freed when it returns and only the
 * result survives, owned by the caller's scope (or the caller, without one). The weights are
 * never modified after loading. A forward can be stopped between blocks by a check installed with
 * {@link CancellationPoints} (the pipeline's cancellation); it then frees what it made and throws.
 */
public final class FluxTransformer extends LoadedModel {
    static {
        // Block streaming (core.offload, not API) reaches the blocks through this adapter, so the
        // public class implements none of its types.
        StreamableBlocks.register(FluxTransformer.class, m -> m.streamable);
    }

    private final FluxConfig config;
    private final LinearOp imgIn; // img_in [h, inChannels]
    private final MlpEmbedder timeIn; // time_in.{in,out}_layer [h, 256], [h, h]
    private final MlpEmbedder vectorIn; // vector_in.{in,out}_layer [h, vecInDim], [h, h]
    private final @Nullable MlpEmbedder guidanceIn; // guidance_in.{in,out}_layer [h, 256], [h, h] (dev only)
    private final LinearOp txtIn; // txt_in [h, contextInDim]
    private final EmbedNd peEmbedder;
    private final List<DoubleStreamBlock> doubleBlocks; // double_blocks.0 .. depth-1
    private final List<SingleStreamBlock> singleBlocks; // single_blocks.0 .. depthSingleBlocks-1
    private final LastLayer finalLayer; // final_layer.{adaLN_modulation.1, linear}
    private volatile @Nullable BlockHook blockHook; // block streaming; null: weights stay where they are
    private final StreamableBlocks streamable = new Streamable();
    private final RopeCache ropeCache = new RopeCache();

    /**
     * System property that turns off the reuse of the RoPE tables while the same position-id
     * tensors come back ({@code false}; read on every forward).
     */
    public static final String ROPE_CACHE_PROPERTY = RopeCache.PROPERTY;

    /** Binds every weight under {@code w} (BFL names). Only the binding (its {@code LOADER}) calls this. */
    FluxTransformer(FluxConfig config, WeightPath w) {
        super("FluxTransformer");
        this.config = config;
        long h = config.hiddenSize();
        this.imgIn = w.linear("img_in", h, config.inChannels());
        this.timeIn = new MlpEmbedder(w.at("time_in"), FluxMath.TIME_EMBED_DIM, h);
        this.vectorIn = new MlpEmbedder(w.at("vector_in"), config.vecInDim(), h);
        this.guidanceIn =
                config.guidanceEmbed() ? new MlpEmbedder(w.at("guidance_in"), FluxMath.TIME_EMBED_DIM, h) : null;
        this.txtIn = w.linear("txt_in", h, config.contextInDim());
        this.peEmbedder = new EmbedNd(config);
        List<DoubleStreamBlock> dbl = new ArrayList<>();
        for (int i = 0; i < config.depth(); i++) {
            dbl.add(new DoubleStreamBlock(config, w.at("double_blocks").at(i)));
        }
        List<SingleStreamBlock> sgl = new ArrayList<>();
        for (int i = 0; i < config.depthSingleBlocks(); i++) {
            sgl.add(new SingleStreamBlock(config, w.at("single_blocks").at(i)));
        }
        this.doubleBlocks = List.copyOf(dbl);
        this.singleBlocks = List.copyOf(sgl);
        this.finalLayer = new LastLayer(config, w.at("final_layer"));
    }

    // ------------------------------------------------------------------------------ loading

    /** Loads from any of the three weight formats ({@link WeightSource#open}). */
    private static final ModelLoader<FluxConfig, FluxTransformer> LOADER = new ModelLoader<>(
            "a FLUX transformer",
            List.of("flux"),
            WeightSource::open,
            s -> s,
            FluxConfig::inferFrom,
            FluxTransformer::describe,
            FluxTransformer::new);

    /**
     * Loads a transformer from any of the three weight formats, the configuration inferred from
     * the tensors. The source stays open (the caller closes it); the model does not need it after
     * this returns.
     *
     * @throws WeightException if the file's {@code general.architecture} is not {@code flux}, the
     *                         configuration cannot be inferred, or tensors are missing, mis-shaped
     *                         or (strict) unexpected: a {@link io.github.flux4j.core.weights.WeightBindingException}
     *                         then lists all of them
     */
    public static FluxTransformer load(WeightSource source, LoadOptions options) {
        return LOADER.load(source, options);
    }

    /** Loads a transformer of a known configuration. */
    public static FluxTransformer load(WeightSource source, FluxConfig config, LoadOptions options) {
        return LOADER.load(source, config, options);
    }

    /**
     * Opens weights in any format ({@link WeightSource#open}: a {@code .gguf} file, a BFL
     * {@code .safetensors} file or a diffusers folder), loads the transformer and closes the files.
     *
     * @throws io.github.flux4j.FluxIoException if a file cannot be read
     */
    public static FluxTransformer load(Path path, LoadOptions options) {
        return LOADER.load(path, options);
    }

    private static String describe(WeightSource source, FluxConfig config) {
        return "a FLUX transformer (" + (config.guidanceEmbed() ? "dev" : "schnell") + ", depth " + config.depth() + "+"
                + config.depthSingleBlocks() + ", hidden " + config.hiddenSize() + ")";
    }

    // ------------------------------------------------------------------------------ forward

    /**
     * The velocity for packed latents; see {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, ForwardTrace)}.
     */
    public Tensor forward(
            Tensor img,
            Tensor imgIds,
            Tensor txt,
            Tensor txtIds,
            Tensor timestep,
            Tensor y,
            @Nullable Tensor guidance) {
        return forward(img, imgIds, txt, txtIds, timestep, y, guidance, ForwardTrace.NONE);
    }

    /**
     * The velocity for packed latents, as diffusers' {@code FluxTransformer2DModel.forward}
     * ({@code hidden_states=img, encoder_hidden_states=txt, pooled_projections=y, timestep,
     * img_ids, txt_ids, guidance}). Inputs may be on any device and of any float dtype: they are
     * moved to the model's device and cast to its compute dtype first (ids to float32).
     *
     * @param img      packed latents {@code [B, Simg, inChannels]}
     * @param imgIds   positions {@code [Simg, 3]}: {@code (0, row, col)} per token
     * @param txt      text-encoder states {@code [B, Stxt, contextInDim]} (T5)
     * @param txtIds   positions {@code [Stxt, 3]} (zeros for FLUX.1)
     * @param timestep {@code [B]}, as diffusers receives it: sigma in [0, 1] (the pipeline passes
     *                 {@code t / 1000}); it is cast to the compute dtype and multiplied by 1000
     * @param y        pooled text vector {@code [B, vecInDim]} (CLIP)
     * @param guidance {@code [B]} guidance scale (e.g. 3.5), also cast and multiplied by 1000;
     *                 required by guidance-distilled models (dev), ignored by the others
     * @param trace    receives the intermediates named in {@link ForwardTrace}
     * @return the predicted velocity {@code [B, Simg, outChannels]} in the compute dtype, on the
     *         model's device, owned by the caller's scope
     * @throws IllegalArgumentException on inconsistent shapes or a missing guidance
     */
    public Tensor forward(
            Tensor img,
            Tensor imgIds,
            Tensor txt,
            Tensor txtIds,
            Tensor timestep,
            Tensor y,
            @Nullable Tensor guidance,
            ForwardTrace trace) {
        checkOpen();
        checkInputs(img, imgIds, txt, txtIds, timestep, y, guidance);
        try (NoGradGuard noGrad = Torch.noGrad()) {
            return Scopes.scoped(() -> run(img, imgIds, txt, txtIds, timestep, y, guidance, trace));
        }
    }

    private Tensor run(
            Tensor img0,
            Tensor imgIds0,
            Tensor txt0,
            Tensor txtIds0,
            Tensor timestep0,
            Tensor y0,
            @Nullable Tensor guidance0,
            ForwardTrace trace) {
        Device dev = device().toTorch();
        ScalarType act = dtype().scalarType();

        Tensor img = imgIn.forward(img0.to(dev, act));
        trace.record("x_embedder", img);

        // timestep.to(hidden_states.dtype) * 1000, likewise the guidance
        Tensor t = timestep0.to(dev, act).mul(new Scalar(FluxMath.TIME_FACTOR));
        Tensor tProj = FluxMath.timestepEmbedding(t);
        trace.record("timestep_proj", tProj);
        Tensor vec = timeIn.forward(tProj.to(act));
        if (guidanceIn != null) {
            if (guidance0 == null) { // checkInputs refuses this; kept for the compiler's null analysis
                throw new IllegalArgumentException("this is a guidance-distilled model (dev): guidance must be given");
            }
            Tensor g = guidance0.to(dev, act).mul(new Scalar(FluxMath.TIME_FACTOR));
            Tensor gProj = FluxMath.timestepEmbedding(g);
            trace.record("guidance_proj", gProj);
            vec = vec.add(guidanceIn.forward(gProj.to(act)));
        }
        vec = vec.add(vectorIn.forward(y0.to(dev, act)));
        trace.record("temb", vec);
        // every modulation (two per double block, one per single block, the final layer's) reads
        // silu(vec): computed once here instead of 2 x 19 + 38 + 1 times
        Tensor siluVec = Functional.silu(vec);

        Tensor txt = txtIn.forward(txt0.to(dev, act));
        trace.record("context_embedder", txt);

        // the same ids on every step of a denoising loop: the tables of the last forward are reused
        EmbedNd.Rope pe = ropeCache.get(txtIds0, imgIds0, dev, () -> {
            Tensor imgIds = flattenIds(imgIds0).to(dev, ScalarType.Float);
            Tensor txtIds = flattenIds(txtIds0).to(dev, ScalarType.Float);
            return peEmbedder.forward(torch.cat(new TensorVector(txtIds, imgIds), 0));
        });
        trace.record("rope_cos", pe.cos());
        trace.record("rope_sin", pe.sin());

        // Each block runs in its own scope, and the streams it replaces are freed at once: with one
        // scope around the whole forward, every block's temporaries (attention, MLP, dequantized
        // weights) lived until the end, and a 1024x1024 FLUX.1-dev forward ran out of 80 GB. The
        // streams a block makes are held in slots (in no scope) until the next block replaces
        // them, and freed on the way out if a block fails.
        try (TensorSlot imgSlot = new TensorSlot();
                TensorSlot txtSlot = new TensorSlot();
                TensorSlot joint = new TensorSlot()) {
            for (int i = 0; i < doubleBlocks.size(); i++) {
                CancellationPoints.reached("transformer double block", i, doubleBlocks.size());
                Tensor[] out;
                BlockHook hook = beforeBlock(i);
                try (PointerScope blockScope = new PointerScope()) {
                    out = doubleBlocks.get(i).forward(img, txt, siluVec, pe);
                    Scopes.keep(out[0]);
                    Scopes.keep(out[1]);
                } finally {
                    afterBlock(hook, i);
                }
                imgSlot.replace(out[0]);
                txtSlot.replace(out[1]);
                img = out[0];
                txt = out[1];
                trace.record("double." + i + ".encoder_hidden_states", txt);
                trace.record("double." + i + ".hidden_states", img);
            }
            long txtLen = txt.size(1);
            Tensor x = torch.cat(new TensorVector(txt, img), 1);
            imgSlot.close();
            txtSlot.close();
            for (int i = 0; i < singleBlocks.size(); i++) {
                CancellationPoints.reached("transformer single block", i, singleBlocks.size());
                Tensor next;
                BlockHook hook = beforeBlock(doubleBlocks.size() + i);
                try (PointerScope blockScope = new PointerScope()) {
                    next = Scopes.keep(singleBlocks.get(i).forward(x, siluVec, pe));
                } finally {
                    afterBlock(hook, doubleBlocks.size() + i);
                }
                joint.replace(next);
                x = next;
                if (trace != ForwardTrace.NONE) {
                    trace.record("single." + i + ".encoder_hidden_states", x.narrow(1, 0, txtLen));
                    trace.record("single." + i + ".hidden_states", x.narrow(1, txtLen, x.size(1) - txtLen));
                }
            }
            img = x.narrow(1, txtLen, x.size(1) - txtLen); // a view: keeps the storage once x is freed
        }
        Tensor normed = finalLayer.norm(img, siluVec);
        trace.record("norm_out", normed);
        Tensor out = finalLayer.project(normed);
        trace.record("output", out);
        return out;
    }

    private static Tensor flattenIds(Tensor ids) {
        // diffusers still accepts (deprecated) batched ids [1, S, 3] and takes the first
        return ids.dim() == 3 ? ids.select(0, 0) : ids;
    }

    private void checkInputs(
            Tensor img,
            Tensor imgIds,
            Tensor txt,
            Tensor txtIds,
            Tensor timestep,
            Tensor y,
            @Nullable Tensor guidance) {
        long[] is = Tensors.shape(img);
        long[] ts = Tensors.shape(txt);
        long[] ys = Tensors.shape(y);
        if (is.length != 3 || is[2] != config.inChannels()) {
            throw new IllegalArgumentException(
                    "img must be [B, Simg, " + config.inChannels() + "], got " + Arrays.toString(is));
        }
        long b = is[0];
        if (ts.length != 3 || ts[0] != b || ts[2] != config.contextInDim()) {
            throw new IllegalArgumentException(
                    "txt must be [" + b + ", Stxt, " + config.contextInDim() + "], got " + Arrays.toString(ts));
        }
        if (ys.length != 2 || ys[0] != b || ys[1] != config.vecInDim()) {
            throw new IllegalArgumentException(
                    "y must be [" + b + ", " + config.vecInDim() + "], got " + Arrays.toString(ys));
        }
        checkIds("imgIds", imgIds, is[1]);
        checkIds("txtIds", txtIds, ts[1]);
        if (timestep.dim() != 1 || timestep.size(0) != b) {
            throw new IllegalArgumentException(
                    "timestep must be [" + b + "], got " + Arrays.toString(Tensors.shape(timestep)));
        }
        if (config.guidanceEmbed()) {
            if (guidance == null) {
                throw new IllegalArgumentException("this is a guidance-distilled model (dev): guidance must be given");
            }
            if (guidance.dim() != 1 || guidance.size(0) != b) {
                throw new IllegalArgumentException(
                        "guidance must be [" + b + "], got " + Arrays.toString(Tensors.shape(guidance)));
            }
        }
    }

    private void checkIds(String what, Tensor ids, long len) {
        long[] s = Tensors.shape(ids);
        int axes = config.axesDim().size();
        boolean ok = (s.length == 2 && s[0] == len && s[1] == axes)
                || (s.length == 3 && s[0] == 1 && s[1] == len && s[2] == axes);
        if (!ok) {
            throw new IllegalArgumentException(
                    what + " must be [" + len + ", " + axes + "], got " + Arrays.toString(s));
        }
    }

    // ------------------------------------------------------------------------------ accessors

    /** The configuration. */
    public FluxConfig config() {
        return config;
    }

    /** Bytes read from the weight file (quantized size for quantized tensors). */
    public long weightBytes() {
        return sourceBytes();
    }

    /** Frees the weights and the kept RoPE tables. */
    @Override
    public void close() {
        ropeCache.close();
        super.close();
    }

    /** The kept RoPE tables stay behind on the old device otherwise (until the next forward). */
    @Override
    protected void afterMove(FluxDevice target) {
        ropeCache.clear();
    }

    @Override
    public String toString() {
        return "FluxTransformer[" + (config.guidanceEmbed() ? "dev" : "schnell") + ", " + config.depth() + "+"
                + config.depthSingleBlocks() + " blocks, hidden " + config.hiddenSize() + ", " + device() + ", "
                + dtype() + "]";
    }

    // ------------------------------------------------------------------------------ block streaming

    /** Number of transformer blocks: {@code depth} double-stream then {@code depthSingleBlocks} single-stream. */
    int blockCount() {
        return doubleBlocks.size() + singleBlocks.size();
    }

    /**
     * Hands every weight tensor of block {@code index} ({@link BlockHook}'s numbering) to
     * {@code visitor}, named as in the checkpoint ({@code double_blocks.3.img_attn.proj.weight};
     * a split {@code qkv}/{@code linear1} as its row blocks, {@code ...qkv.0.weight}), in a fixed
     * order. The tensors stay owned by the model; a streamer may re-point them (set_data) while no
     * forward uses them.
     *
     * @throws IndexOutOfBoundsException if there is no such block
     */
    void forEachBlockParameter(int index, BiConsumer<String, Tensor> visitor) {
        checkOpen();
        if (index < 0 || index >= blockCount()) {
            throw new IndexOutOfBoundsException("block " + index + " of " + blockCount());
        }
        if (index < doubleBlocks.size()) {
            String prefix = "double_blocks." + index + ".";
            doubleBlocks.get(index).forEachParameter((n, t) -> visitor.accept(prefix + n, t));
        } else {
            int i = index - doubleBlocks.size();
            String prefix = "single_blocks." + i + ".";
            singleBlocks.get(i).forEachParameter((n, t) -> visitor.accept(prefix + n, t));
        }
    }

    /**
     * Installs (or, with null, removes) the hook called around every block of every forward. Not
     * while a forward runs.
     */
    void setBlockHook(@Nullable BlockHook hook) {
        this.blockHook = hook;
    }

    /** The installed block hook, or null. */
    @Nullable
    BlockHook blockHook() {
        return blockHook;
    }

    private @Nullable BlockHook beforeBlock(int index) {
        BlockHook hook = blockHook;
        if (hook != null) {
            hook.beforeBlock(index);
        }
        return hook;
    }

    private static void afterBlock(@Nullable BlockHook hook, int index) {
        if (hook != null) {
            hook.afterBlock(index);
        }
    }

    /** What {@link StreamableBlocks#of} hands block streaming for this model. */
    private final class Streamable implements StreamableBlocks {
        @Override
        public int blockCount() {
            return FluxTransformer.this.blockCount();
        }

        @Override
        public void forEachBlockParameter(int index, BiConsumer<String, Tensor> visitor) {
            FluxTransformer.this.forEachBlockParameter(index, visitor);
        }

        @Override
        public void setBlockHook(@Nullable BlockHook hook) {
            FluxTransformer.this.setBlockHook(hook);
        }

        @Override
        public @Nullable BlockHook blockHook() {
            return FluxTransformer.this.blockHook();
        }
    }
}
