package io.github.flux4j.core.transformer;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.github.flux4j.core.json.ConfigReader;
import io.github.flux4j.core.weights.binding.WeightBinder;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The hyper-parameters of a FLUX transformer, as BFL's {@code FluxParams}
 * (<a href="https://github.com/black-forest-labs/flux/blob/main/src/flux/model.py">flux/model.py</a>).
 *
 * @param inChannels        packed latent channels ({@code img_in} in-features; 64 = 16 latent channels x 2x2 patch)
 * @param vecInDim          pooled text vector width ({@code vector_in}; CLIP-L: 768)
 * @param contextInDim      text token width ({@code txt_in}; T5-XXL: 4096)
 * @param hiddenSize        model width (3072)
 * @param mlpRatio          MLP hidden width / model width (4)
 * @param numHeads          attention heads (24)
 * @param depth             double-stream blocks (19)
 * @param depthSingleBlocks single-stream blocks (38)
 * @param axesDim           RoPE widths per position axis (16, 56, 56), summing to the head dim
 * @param theta             RoPE base (10000)
 * @param qkvBias           whether the attention qkv projections have a bias
 * @param guidanceEmbed     whether the model takes a guidance value ({@code guidance_in}; dev: yes, schnell: no)
 */
public record FluxConfig(
        int inChannels,
        int vecInDim,
        int contextInDim,
        int hiddenSize,
        double mlpRatio,
        int numHeads,
        int depth,
        int depthSingleBlocks,
        List<Integer> axesDim,
        int theta,
        boolean qkvBias,
        boolean guidanceEmbed) {

    /** The RoPE axes of FLUX.1 (head dim 128). */
    public static final List<Integer> DEFAULT_AXES = List.of(16, 56, 56);

    private static final ConfigReader CONFIGS = ConfigReader.of((source, problem, cause) -> cause == null
            ? new WeightException(source + ": " + problem)
            : new WeightException(source + ": " + problem, cause));

    private static final Pattern DOUBLE = Pattern.compile("double_blocks\\.(\\d+)\\..*");
    private static final Pattern SINGLE = Pattern.compile("single_blocks\\.(\\d+)\\..*");

    /** Validates the fields. */
    public FluxConfig {
        axesDim = List.copyOf(axesDim);
        positive("inChannels", inChannels);
        positive("vecInDim", vecInDim);
        positive("contextInDim", contextInDim);
        positive("hiddenSize", hiddenSize);
        positive("numHeads", numHeads);
        if (depth < 0 || depthSingleBlocks < 0) {
            throw new IllegalArgumentException("block counts must be >= 0, got " + depth + " / " + depthSingleBlocks);
        }
        if (!(mlpRatio > 0) || Math.rint(hiddenSize * mlpRatio) != hiddenSize * mlpRatio) {
            throw new IllegalArgumentException("mlpRatio " + mlpRatio + " must be positive and give a whole MLP width");
        }
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException(
                    "hiddenSize " + hiddenSize + " is not divisible by numHeads " + numHeads);
        }
        int sum = axesDim.stream().mapToInt(Integer::intValue).sum();
        if (sum != hiddenSize / numHeads || axesDim.stream().anyMatch(a -> a <= 0 || a % 2 != 0)) {
            throw new IllegalArgumentException("axesDim " + axesDim
                    + " must be positive even widths summing to the head dim " + hiddenSize / numHeads);
        }
        positive("theta", theta);
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }

    /**
     * FLUX.1-dev (<a href="https://github.com/black-forest-labs/flux/blob/main/src/flux/util.py">flux/util.py</a>,
     * {@code configs["flux-dev"]}): guidance-distilled, takes a guidance value.
     */
    public static FluxConfig dev() {
        return new FluxConfig(64, 768, 4096, 3072, 4.0, 24, 19, 38, DEFAULT_AXES, 10_000, true, true);
    }

    /** FLUX.1-schnell ({@code configs["flux-schnell"]}): as dev without {@code guidance_in}. */
    public static FluxConfig schnell() {
        return new FluxConfig(64, 768, 4096, 3072, 4.0, 24, 19, 38, DEFAULT_AXES, 10_000, true, false);
    }

    /** Width of one attention head ({@code hiddenSize / numHeads}; 128). */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** MLP hidden width ({@code hiddenSize * mlpRatio}; 12288). */
    public int mlpHidden() {
        return (int) (hiddenSize * mlpRatio);
    }

    /** Output channels per token, equal to {@link #inChannels()} (the velocity of the packed latents). */
    public int outChannels() {
        return inChannels;
    }

    /**
     * The tensors of a BFL-format transformer of this configuration (BFL checkpoint names, as in
     * city96's GGUF files): name to PyTorch shape ({@code [out, in]} for matrices), in city96's file
     * order: embedders, double blocks, single blocks, final layer. A new map on each call, so
     * callers may re-order or change it. Tools that write synthetic models use it. It is the
     * set of names {@link FluxTransformer} binds, recorded from its constructors
     * ({@link WeightBinder#shapes}), so the names are written once.
     */
    public Map<String, long[]> bflTensorShapes() {
        // The names are the blocks' own: the binder records what FluxTransformer's constructors ask for.
        return WeightBinder.shapes(w -> new FluxTransformer(this, w));
    }

    /**
     * Reads the configuration off the tensor names and shapes, as diffusers' single-file loader
     * does: depths from the highest {@code double_blocks.N} / {@code single_blocks.N}, widths from
     * the embedders, the head dim from the qk-norm scale, guidance from whether {@code guidance_in}
     * exists, the qkv bias from whether {@code qkv.bias} exists. RoPE axes and theta are FLUX.1's
     * (a diffusers folder's {@code config.json} {@code axes_dims_rope} is used where present).
     *
     * @throws WeightException if the source does not look like a FLUX transformer, naming the
     *                         tensor that is missing or inconsistent
     */
    public static FluxConfig inferFrom(WeightSource source) {
        WeightInfo imgIn = need(source, "img_in.weight", 2);
        WeightInfo txtIn = need(source, "txt_in.weight", 2);
        WeightInfo vectorIn = need(source, "vector_in.in_layer.weight", 2);
        int hidden = Math.toIntExact(imgIn.dim(0));
        int depth = maxIndex(source, DOUBLE) + 1;
        int depthSingle = maxIndex(source, SINGLE) + 1;
        if (depth == 0 && depthSingle == 0) {
            throw new WeightException(
                    source.path() + " is not a FLUX transformer: it has no double_blocks.N or single_blocks.N tensors");
        }
        String normName =
                depth > 0 ? "double_blocks.0.img_attn.norm.query_norm.scale" : "single_blocks.0.norm.query_norm.scale";
        WeightInfo norm = need(source, normName, 1);
        int headDim = Math.toIntExact(norm.dim(0));
        if (headDim <= 0 || hidden % headDim != 0) {
            throw new WeightException(source.path() + ": head dim " + headDim + " (from " + normName
                    + ") does not divide the hidden size " + hidden + " (from img_in.weight)");
        }
        int mlp;
        if (depth > 0) {
            mlp = Math.toIntExact(
                    need(source, "double_blocks.0.img_mlp.0.weight", 2).dim(0));
        } else {
            mlp = Math.toIntExact(
                            need(source, "single_blocks.0.linear1.weight", 2).dim(0))
                    - 3 * hidden;
        }
        boolean qkvBias = depth > 0
                ? source.find("double_blocks.0.img_attn.qkv.bias").isPresent()
                : source.find("single_blocks.0.linear1.bias").isPresent();
        boolean guidance = source.find("guidance_in.in_layer.weight").isPresent();
        List<Integer> axes = axesFromConfig(source).orElse(null);
        if (axes == null) {
            if (headDim != 128) {
                throw new WeightException(source.path() + ": head dim " + headDim
                        + " is not FLUX.1's 128, so the RoPE axes cannot be inferred; build a FluxConfig explicitly");
            }
            axes = DEFAULT_AXES;
        }
        try {
            return new FluxConfig(
                    Math.toIntExact(imgIn.dim(1)),
                    Math.toIntExact(vectorIn.dim(1)),
                    Math.toIntExact(txtIn.dim(1)),
                    hidden,
                    (double) mlp / hidden,
                    hidden / headDim,
                    depth,
                    depthSingle,
                    axes,
                    10_000,
                    qkvBias,
                    guidance);
        } catch (IllegalArgumentException e) {
            throw new WeightException(source.path() + ": inconsistent FLUX transformer shapes: " + e.getMessage(), e);
        }
    }

    private static WeightInfo need(WeightSource source, String name, int rank) {
        WeightInfo t = source.find(name)
                .orElseThrow(() -> new WeightException(source.path() + " is not a FLUX transformer: it has no tensor "
                        + name + source.missingHint(name)));
        if (t.rank() != rank) {
            throw new WeightException(source.path() + ": " + name + " has rank " + t.rank() + ", expected " + rank);
        }
        return t;
    }

    private static int maxIndex(WeightSource source, Pattern pattern) {
        int max = -1;
        for (WeightInfo t : source.tensors()) {
            Matcher m = pattern.matcher(t.name());
            if (m.matches()) {
                max = Math.max(max, Integer.parseInt(m.group(1)));
            }
        }
        return max;
    }

    private static Optional<List<Integer>> axesFromConfig(WeightSource source) {
        if (source.config().isEmpty()) {
            return Optional.empty();
        }
        return Optional.ofNullable(CONFIGS.bind(source.config(), source.path() + " config.json", DiffusersConfig.class)
                .axesDimsRope());
    }

    /**
     * What inference takes from a diffusers {@code FluxTransformer2DModel} {@code config.json}
     * (the rest comes from the tensors).
     *
     * @param axesDimsRope {@code axes_dims_rope}, or null if absent; present but unusable is an
     *                     error, not a silent fall-back to FLUX.1's axes
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    private record DiffusersConfig(
            @JsonProperty("axes_dims_rope") @Nullable List<Integer> axesDimsRope) {
        DiffusersConfig {
            if (axesDimsRope != null
                    && (axesDimsRope.isEmpty() || axesDimsRope.stream().anyMatch(a -> a <= 0))) {
                throw new IllegalArgumentException(
                        "axes_dims_rope must be a non-empty list of positive integers, got " + axesDimsRope);
            }
        }
    }

    /** A copy with another number of double and single blocks (for tests and partial models). */
    public FluxConfig withDepths(int depth, int depthSingleBlocks) {
        return new FluxConfig(
                inChannels,
                vecInDim,
                contextInDim,
                hiddenSize,
                mlpRatio,
                numHeads,
                depth,
                depthSingleBlocks,
                axesDim,
                theta,
                qkvBias,
                guidanceEmbed);
    }
}
