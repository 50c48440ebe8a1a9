package io.github.flux4j.core.vae;

import static java.util.Objects.requireNonNullElse;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.github.flux4j.core.json.ConfigReader;
import io.github.flux4j.core.weights.source.WeightException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The decoder-relevant part of a diffusers {@code AutoencoderKL} configuration ({@code vae/config.json}).
 *
 * @param inChannels          image channels the encoder takes (3); kept for completeness
 * @param outChannels         image channels the decoder produces (3)
 * @param latentChannels      latent channels (FLUX: 16)
 * @param blockOutChannels    per-resolution widths, highest resolution first (FLUX: 128, 256, 512, 512);
 *                            the decoder runs them in reverse
 * @param layersPerBlock      resnets per encoder block; decoder up blocks have one more (FLUX: 2, so 3)
 * @param normNumGroups       groups of every GroupNorm (32)
 * @param scalingFactor       latents are divided by it before decoding (FLUX: 0.3611)
 * @param shiftFactor         and then shifted by it (FLUX: 0.1159; {@code null} in SD configs, read as 0)
 * @param usePostQuantConv    whether a 1x1 {@code post_quant_conv} runs before the decoder (FLUX: no)
 * @param midBlockAddAttention whether the mid block has its attention (FLUX: yes)
 * @param sampleSize          image size the model was trained at (FLUX: 1024); the tile size of
 *                            {@link VaeDecoder#decodeTiled}
 */
public record VaeConfig(
        int inChannels,
        int outChannels,
        int latentChannels,
        List<Integer> blockOutChannels,
        int layersPerBlock,
        int normNumGroups,
        double scalingFactor,
        double shiftFactor,
        boolean usePostQuantConv,
        boolean midBlockAddAttention,
        int sampleSize) {

    /** diffusers' decoder block type, the only one this decoder implements. */
    static final String UP_DECODER_BLOCK = "UpDecoderBlock2D";

    private static final ConfigReader CONFIGS = ConfigReader.of((source, problem, cause) -> {
        String message = source + ": not a usable AutoencoderKL config: " + problem;
        return cause == null ? new WeightException(message) : new WeightException(message, cause);
    });

    /** Validates the fields. */
    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        positive("in_channels", inChannels);
        positive("out_channels", outChannels);
        positive("latent_channels", latentChannels);
        positive("layers_per_block", layersPerBlock);
        positive("norm_num_groups", normNumGroups);
        positive("sample_size", sampleSize);
        if (blockOutChannels.isEmpty()) {
            throw new IllegalArgumentException("block_out_channels must not be empty");
        }
        for (int c : blockOutChannels) {
            if (c <= 0 || c % normNumGroups != 0) {
                throw new IllegalArgumentException("block_out_channels " + blockOutChannels
                        + " must be positive multiples of norm_num_groups " + normNumGroups);
            }
        }
        if (!(scalingFactor > 0) || !Double.isFinite(scalingFactor)) {
            throw new IllegalArgumentException("scaling_factor must be positive and finite, got " + scalingFactor);
        }
        if (!Double.isFinite(shiftFactor)) {
            throw new IllegalArgumentException("shift_factor must be finite, got " + shiftFactor);
        }
    }

    /** FLUX.1's VAE ({@code black-forest-labs/FLUX.1-dev/vae/config.json}; BFL's {@code ae.safetensors}). */
    public static VaeConfig flux() {
        return new VaeConfig(3, 3, 16, List.of(128, 256, 512, 512), 2, 32, 0.3611, 0.1159, false, true, 1024);
    }

    /**
     * Reads a parsed diffusers {@code config.json}. Fields the decoder does not use (the encoder's
     * {@code down_block_types}, {@code force_upcast}, {@code latents_mean}, ...) are ignored; absent
     * fields take diffusers' {@code AutoencoderKL} defaults, except that {@code block_out_channels},
     * {@code latent_channels} and {@code scaling_factor} are required.
     *
     * @param json   the parsed JSON object, as {@link io.github.flux4j.core.weights.source.WeightSource#config()}
     *               holds it
     * @param origin the file, for messages
     * @throws WeightException naming the file and the field if a value is of the wrong type, out of
     *                         range, or asks for something this decoder does not implement (an
     *                         activation other than SiLU, an up block other than {@code UpDecoderBlock2D})
     */
    public static VaeConfig fromJson(Map<String, ?> json, String origin) {
        return CONFIGS.bind(json, origin, VaeConfig.class);
    }

    /**
     * Reads a diffusers {@code vae/config.json}; see {@link #fromJson(Map, String)}.
     *
     * @throws WeightException naming the file and the field if the content is not valid JSON or
     *                         not a usable configuration
     * @throws io.github.flux4j.FluxIoException if the file cannot be read
     */
    public static VaeConfig read(Path configJson) {
        return CONFIGS.read(configJson, VaeConfig.class);
    }

    /** The keys of diffusers' {@code AutoencoderKL} that the decoder uses, with its defaults. */
    @JsonCreator
    private static VaeConfig fromKeys(
            @JsonProperty("_class_name") @Nullable String className,
            @JsonProperty("act_fn") @Nullable String actFn,
            @JsonProperty("in_channels") @Nullable Integer inChannels,
            @JsonProperty("out_channels") @Nullable Integer outChannels,
            @JsonProperty("latent_channels") @Nullable Integer latentChannels,
            @JsonProperty("block_out_channels") @Nullable List<Integer> blockOutChannels,
            @JsonProperty("up_block_types") @Nullable List<String> upBlockTypes,
            @JsonProperty("layers_per_block") @Nullable Integer layersPerBlock,
            @JsonProperty("norm_num_groups") @Nullable Integer normNumGroups,
            @JsonProperty("scaling_factor") @Nullable Double scalingFactor,
            @JsonProperty("shift_factor") @Nullable Double shiftFactor, // null in SD configs
            @JsonProperty("use_post_quant_conv") @Nullable Boolean usePostQuantConv,
            @JsonProperty("mid_block_add_attention") @Nullable Boolean midBlockAddAttention,
            // an int, or (for non-square models) a list whose first entry diffusers uses
            @JsonProperty("sample_size") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) @Nullable
                    List<Integer> sampleSize) {
        if (className != null && !className.equals("AutoencoderKL")) {
            throw new IllegalArgumentException("_class_name is \"" + className + "\", not \"AutoencoderKL\"");
        }
        String act = requireNonNullElse(actFn, "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw new IllegalArgumentException("act_fn is \"" + act + "\"; only \"silu\" is implemented");
        }
        List<Integer> channels = ConfigReader.required(blockOutChannels, "block_out_channels");
        if (upBlockTypes != null) {
            for (String t : upBlockTypes) {
                if (!UP_DECODER_BLOCK.equals(t)) {
                    throw new IllegalArgumentException(
                            "up_block_types " + upBlockTypes + ": only \"" + UP_DECODER_BLOCK + "\" is implemented");
                }
            }
            if (upBlockTypes.size() != channels.size()) {
                throw new IllegalArgumentException("up_block_types has " + upBlockTypes.size()
                        + " entries but block_out_channels " + channels.size());
            }
        }
        if (sampleSize != null && sampleSize.isEmpty()) {
            throw new IllegalArgumentException("sample_size must be an integer or a non-empty list, got []");
        }
        return new VaeConfig(
                requireNonNullElse(inChannels, 3),
                requireNonNullElse(outChannels, 3),
                ConfigReader.required(latentChannels, "latent_channels"),
                channels,
                requireNonNullElse(layersPerBlock, 1),
                requireNonNullElse(normNumGroups, 32),
                ConfigReader.required(scalingFactor, "scaling_factor"),
                requireNonNullElse(shiftFactor, 0.0),
                requireNonNullElse(usePostQuantConv, true),
                requireNonNullElse(midBlockAddAttention, true),
                sampleSize == null ? 32 : sampleSize.get(0));
    }

    /** Number of resolutions ({@code len(block_out_channels)}; 4). */
    public int levels() {
        return blockOutChannels.size();
    }

    /** Pixels per latent pixel along each side: {@code 2^(levels - 1)} (8). */
    public int upscale() {
        return 1 << (levels() - 1);
    }

    /** Width of the mid block and of the first up block ({@code block_out_channels[-1]}; 512). */
    public int midChannels() {
        return blockOutChannels.get(levels() - 1);
    }

    /** Latent side of one tile in {@link VaeDecoder#decodeTiled}: {@code sample_size / upscale()} (128). */
    public int tileLatentSize() {
        return sampleSize / upscale();
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }
}
