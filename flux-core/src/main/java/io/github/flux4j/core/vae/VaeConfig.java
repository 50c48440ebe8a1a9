package io.github.flux4j.core.vae;

import io.github.flux4j.core.weights.source.WeightException;
import java.util.ArrayList;
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
     * @param json   the parsed JSON object
     * @param origin the file, for messages
     * @throws WeightException naming the file and the field if a value is of the wrong type, out of
     *                         range, or asks for something this decoder does not implement (an
     *                         activation other than SiLU, an up block other than {@code UpDecoderBlock2D})
     */
    public static VaeConfig fromJson(Map<String, ?> json, String origin) {
        try {
            Object cls = json.get("_class_name");
            if (cls != null && !"AutoencoderKL".equals(cls)) {
                throw new IllegalArgumentException("_class_name is \"" + cls + "\", not \"AutoencoderKL\"");
            }
            String act = string(json, "act_fn", "silu");
            if (!act.equals("silu") && !act.equals("swish")) {
                throw new IllegalArgumentException("act_fn is \"" + act + "\"; only \"silu\" is implemented");
            }
            List<Integer> channels = ints(json, "block_out_channels");
            Object upTypes = json.get("up_block_types");
            if (upTypes != null) {
                if (!(upTypes instanceof List<?> list)) {
                    throw new IllegalArgumentException("up_block_types must be a list, got " + upTypes);
                }
                for (Object t : list) {
                    if (!UP_DECODER_BLOCK.equals(t)) {
                        throw new IllegalArgumentException(
                                "up_block_types " + list + ": only \"" + UP_DECODER_BLOCK + "\" is implemented");
                    }
                }
                if (list.size() != channels.size()) {
                    throw new IllegalArgumentException(
                            "up_block_types has " + list.size() + " entries but block_out_channels " + channels.size());
                }
            }
            Object shift = json.get("shift_factor");
            return new VaeConfig(
                    integer(json, "in_channels", 3),
                    integer(json, "out_channels", 3),
                    integer(json, "latent_channels", null),
                    channels,
                    integer(json, "layers_per_block", 1),
                    integer(json, "norm_num_groups", 32),
                    number(json, "scaling_factor"),
                    shift == null ? 0.0 : number(json, "shift_factor"),
                    bool(json, "use_post_quant_conv", true),
                    bool(json, "mid_block_add_attention", true),
                    sampleSize(json));
        } catch (IllegalArgumentException e) {
            throw new WeightException(origin + ": not a usable AutoencoderKL config: " + e.getMessage(), e);
        }
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

    // ---------------------------------------------------------------------------------- JSON

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }

    private static Object require(Map<String, ?> json, String key) {
        Object v = json.get(key);
        if (v == null) {
            throw new IllegalArgumentException(key + " is missing");
        }
        return v;
    }

    private static int integer(Map<String, ?> json, String key, @Nullable Integer dflt) {
        Object v = json.get(key);
        if (v == null) {
            if (dflt == null) {
                throw new IllegalArgumentException(key + " is missing");
            }
            return dflt;
        }
        return toInt(key, v);
    }

    private static int toInt(String key, Object v) {
        if (v instanceof Integer || v instanceof Long || v instanceof Short) {
            long l = ((Number) v).longValue();
            if (l == (int) l) {
                return (int) l;
            }
        }
        throw new IllegalArgumentException(key + " must be an integer, got " + describe(v));
    }

    private static double number(Map<String, ?> json, String key) {
        Object v = require(json, key);
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException(key + " must be a number, got " + describe(v));
    }

    private static boolean bool(Map<String, ?> json, String key, boolean dflt) {
        Object v = json.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new IllegalArgumentException(key + " must be true or false, got " + describe(v));
    }

    private static String string(Map<String, ?> json, String key, String dflt) {
        Object v = json.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof String s) {
            return s;
        }
        throw new IllegalArgumentException(key + " must be a string, got " + describe(v));
    }

    private static List<Integer> ints(Map<String, ?> json, String key) {
        Object v = require(json, key);
        if (!(v instanceof List<?> list)) {
            throw new IllegalArgumentException(key + " must be a list of integers, got " + describe(v));
        }
        List<Integer> out = new ArrayList<>();
        for (Object o : list) {
            out.add(toInt(key + " entry", o));
        }
        return out;
    }

    /** {@code sample_size} may be an int or (for non-square models) a list, whose first entry diffusers uses. */
    private static int sampleSize(Map<String, ?> json) {
        Object v = json.get("sample_size");
        if (v == null) {
            return 32;
        }
        if (v instanceof List<?> list && !list.isEmpty()) {
            return toInt("sample_size", list.get(0));
        }
        return toInt("sample_size", v);
    }

    private static String describe(Object v) {
        return v instanceof String s ? "\"" + s + "\"" : String.valueOf(v);
    }
}
