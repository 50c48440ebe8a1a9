package io.github.flux4j.examples.demo;

import io.github.flux4j.core.transformer.FluxConfig;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The demo model's weights: every tensor a pure function of its component, name and shape, so that
 * the model is the same on every machine without shipping any weights. Shapes follow the tiny
 * configurations in {@code demo/*.json}; values follow the rules in {@link DemoModel}'s
 * documentation (uniform splitmix64 streams, scales chosen so that the image is colourful blobs
 * rather than grey noise).
 */
final class DemoWeights {
    /** ASCII "FLUXDEMO": mixed into every tensor's seed. */
    static final long SEED = 0x464C5558_44454D4FL;

    // The transformer (FluxTransformer2DModel config in demo/transformer/config.json).
    static final int HIDDEN = 256;
    static final int HEAD_DIM = 128;
    static final int IN_CHANNELS = 64;
    static final int JOINT_DIM = 128;
    static final int POOLED_DIM = 96;
    static final int MLP = 4 * HIDDEN;
    static final int DOUBLE_BLOCKS = 2;
    static final int SINGLE_BLOCKS = 2;
    /** Latent channels: the final layer's 64 outputs are 16 channels x a 2x2 patch. */
    static final int LATENT_CHANNELS = 16;

    // CLIPTextModel (demo/text_encoder/config.json).
    static final int CLIP_VOCAB = 1851;
    static final int CLIP_POSITIONS = 77;
    static final int CLIP_HIDDEN = POOLED_DIM;
    static final int CLIP_MLP = 128;

    // T5EncoderModel (demo/text_encoder_2/config.json).
    static final int T5_VOCAB = 1100;
    static final int T5_MODEL = JOINT_DIM;
    static final int T5_INNER = 2 * 32;
    static final int T5_FF = 96;
    static final int T5_LAYERS = 2;
    static final int T5_HEADS = 2;
    static final int T5_BUCKETS = 32;

    // AutoencoderKL decoder (demo/vae/config.json): block_out_channels 8, 8, 16, 16, 2 layers per block.
    static final int[] VAE_CHANNELS = {8, 8, 16, 16};
    static final int VAE_LAYERS = 2;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final List<String> INPUT_EMBEDDERS =
            List.of("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.");
    private static final List<String> MODULATIONS =
            List.of("_mod.lin.weight", "modulation.lin.weight", "adaLN_modulation.1.weight");
    /** Binomial 3x3 kernel, centre 1: the smooth part of every VAE convolution. */
    private static final float[] BLUR = {0.25f, 0.5f, 0.25f, 0.5f, 1f, 0.5f, 0.25f, 0.5f, 0.25f};
    /** sqrt(sum(BLUR^2)) = sqrt(2.25). */
    private static final double BLUR_NORM = 1.5;

    private static final float VAE_NOISE = 0.1f;
    private static final double VAE_OUT_GAIN = 0.6;

    private DemoWeights() {}

    // ---------------------------------------------------------------------------- the stream

    /** FNV-1a 64 of the UTF-8 bytes. */
    static long fnv1a64(String s) {
        long h = 0xCBF29CE484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001B3L;
        }
        return h;
    }

    /**
     * {@code n} values uniform in [-1, 1): splitmix64 started at {@code fnv1a64(component + "/" +
     * name) ^ SEED}, each output {@code z} giving {@code float(z >>> 40) * 2^-23 - 1} (exact).
     */
    static float[] uniform(String component, String name, int n) {
        float[] out = new float[n];
        long state = fnv1a64(component + "/" + name) ^ SEED;
        for (int i = 0; i < n; i++) {
            state += GOLDEN;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            out[i] = (float) (z >>> 40) * 0x1p-23f - 1.0f;
        }
        return out;
    }

    /** {@code float32(u * scale) [+ offset]} element by element. */
    static float[] scaled(String component, String name, long[] shape, float scale, float offset) {
        float[] v = uniform(component, name, numel(shape));
        for (int i = 0; i < v.length; i++) {
            float x = v[i] * scale;
            v[i] = offset != 0f ? x + offset : x;
        }
        return v;
    }

    static int numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    /**
     * The rule shared by the text encoders and the VAE: biases uniform +-0.05 (+-0.1 for
     * normalization biases), other 1-D tensors (normalization weights) 1 +- 0.25, weights of
     * fan-in {@code f} (the product of all but the first dimension) uniform with standard
     * deviation {@code 1/sqrt(f)} (scale {@code sqrt(3/f)}).
     */
    static float[] generic(String component, String name, long[] shape) {
        if (name.endsWith("bias")) {
            return scaled(component, name, shape, name.contains("norm") ? 0.1f : 0.05f, 0f);
        }
        if (shape.length == 1) {
            return scaled(component, name, shape, 0.25f, 1f);
        }
        return scaled(component, name, shape, (float) Math.sqrt(3.0 / fanIn(shape)), 0f);
    }

    private static long fanIn(long[] shape) {
        long f = 1;
        for (int i = 1; i < shape.length; i++) {
            f *= shape[i];
        }
        return f;
    }

    // ---------------------------------------------------------------------------- transformer

    /** BFL names (= GGUF names) and PyTorch shapes of the transformer, sorted by name. */
    static Map<String, long[]> transformerShapes() {
        FluxConfig config = new FluxConfig(
                IN_CHANNELS,
                POOLED_DIM,
                JOINT_DIM,
                HIDDEN,
                (double) MLP / HIDDEN,
                HIDDEN / HEAD_DIM,
                DOUBLE_BLOCKS,
                SINGLE_BLOCKS,
                FluxConfig.DEFAULT_AXES,
                10_000,
                true,
                true);
        return new TreeMap<>(config.bflTensorShapes());
    }

    /**
     * A transformer tensor, by the tiny FLUX test model's rule ({@code tools/reference/TINY_FLUX.md}):
     * 2-D weights {@code 2^g / sqrt(in)} (g = 2 for modulations, 1 for the input embedders, else
     * 0), biases {@code 2^-4}, RMSNorm scales {@code 1 +- 2^-2}. The final layer's rows are then
     * tied in groups of four (each latent channel's 2x2 patch gets the same value), which keeps
     * a 16-pixel grid out of the image.
     */
    static float[] transformerTensor(String name, long[] shape) {
        float[] v;
        if (shape.length == 2) {
            int g = MODULATIONS.stream().anyMatch(name::endsWith)
                    ? 2
                    : INPUT_EMBEDDERS.stream().anyMatch(name::startsWith) ? 1 : 0;
            v = scaled("transformer", name, shape, (float) (Math.scalb(1.0, g) / Math.sqrt(shape[1])), 0f);
        } else if (name.endsWith(".scale")) {
            v = scaled("transformer", name, shape, 0x1p-2f, 1f);
        } else {
            v = scaled("transformer", name, shape, 0x1p-4f, 0f);
        }
        if (name.startsWith("final_layer.linear.")) {
            int row = shape.length == 2 ? (int) shape[1] : 1;
            for (int c = 0; c < LATENT_CHANNELS; c++) {
                for (int k = 1; k < 4; k++) {
                    System.arraycopy(v, 4 * c * row, v, (4 * c + k) * row, row);
                }
            }
        }
        return v;
    }

    /** Whether a transformer tensor is a block matrix (stored quantized) rather than an embedder or 1-D. */
    static boolean isBlockMatrix(String name, long[] shape) {
        return shape.length == 2 && (name.startsWith("double_blocks.") || name.startsWith("single_blocks."));
    }

    // ---------------------------------------------------------------------------- CLIP

    /** transformers' CLIPTextModel names and shapes (with the {@code text_model.} prefix FLUX.1-dev's file has). */
    static Map<String, long[]> clipShapes() {
        Map<String, long[]> s = new TreeMap<>();
        String t = "text_model.";
        int h = CLIP_HIDDEN;
        s.put(t + "embeddings.token_embedding.weight", new long[] {CLIP_VOCAB, h});
        s.put(t + "embeddings.position_embedding.weight", new long[] {CLIP_POSITIONS, h});
        String l = t + "encoder.layers.0.";
        for (String p : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
            linear(s, l + "self_attn." + p, h, h);
        }
        norm(s, l + "layer_norm1", h);
        norm(s, l + "layer_norm2", h);
        linear(s, l + "mlp.fc1", CLIP_MLP, h);
        linear(s, l + "mlp.fc2", h, CLIP_MLP);
        norm(s, t + "final_layer_norm", h);
        return s;
    }

    /** A CLIP tensor: embeddings uniform +-1, everything else {@link #generic}. */
    static float[] clipTensor(String name, long[] shape) {
        return name.contains("embedding")
                ? scaled("text_encoder", name, shape, 1f, 0f)
                : generic("text_encoder", name, shape);
    }

    // ---------------------------------------------------------------------------- T5

    /** transformers' T5EncoderModel names and shapes (the tied {@code encoder.embed_tokens} not stored). */
    static Map<String, long[]> t5Shapes() {
        Map<String, long[]> s = new TreeMap<>();
        s.put("shared.weight", new long[] {T5_VOCAB, T5_MODEL});
        for (int i = 0; i < T5_LAYERS; i++) {
            String b = "encoder.block." + i + ".layer.";
            for (String p : List.of("q", "k", "v")) {
                s.put(b + "0.SelfAttention." + p + ".weight", new long[] {T5_INNER, T5_MODEL});
            }
            s.put(b + "0.SelfAttention.o.weight", new long[] {T5_MODEL, T5_INNER});
            if (i == 0) {
                s.put(b + "0.SelfAttention.relative_attention_bias.weight", new long[] {T5_BUCKETS, T5_HEADS});
            }
            s.put(b + "0.layer_norm.weight", new long[] {T5_MODEL});
            s.put(b + "1.DenseReluDense.wi_0.weight", new long[] {T5_FF, T5_MODEL});
            s.put(b + "1.DenseReluDense.wi_1.weight", new long[] {T5_FF, T5_MODEL});
            s.put(b + "1.DenseReluDense.wo.weight", new long[] {T5_MODEL, T5_FF});
            s.put(b + "1.layer_norm.weight", new long[] {T5_MODEL});
        }
        s.put("encoder.final_layer_norm.weight", new long[] {T5_MODEL});
        return s;
    }

    /** A T5 tensor: the token embedding and the relative position bias uniform +-1, else {@link #generic}. */
    static float[] t5Tensor(String name, long[] shape) {
        return name.equals("shared.weight") || name.contains("relative_attention_bias")
                ? scaled("text_encoder_2", name, shape, 1f, 0f)
                : generic("text_encoder_2", name, shape);
    }

    // ---------------------------------------------------------------------------- VAE

    /** diffusers' AutoencoderKL decoder names and shapes (the encoder is not needed to generate). */
    static Map<String, long[]> vaeShapes() {
        Map<String, long[]> s = new TreeMap<>();
        int[] rev = {VAE_CHANNELS[3], VAE_CHANNELS[2], VAE_CHANNELS[1], VAE_CHANNELS[0]};
        String d = "decoder.";
        conv(s, d + "conv_in", rev[0], LATENT_CHANNELS, 3);
        for (int r = 0; r < 2; r++) {
            resnet(s, d + "mid_block.resnets." + r + ".", rev[0], rev[0]);
        }
        String a = d + "mid_block.attentions.0.";
        norm(s, a + "group_norm", rev[0]);
        for (String p : List.of("to_q", "to_k", "to_v", "to_out.0")) {
            linear(s, a + p, rev[0], rev[0]);
        }
        int in = rev[0];
        for (int b = 0; b < rev.length; b++) {
            int out = rev[b];
            for (int r = 0; r <= VAE_LAYERS; r++) {
                resnet(s, d + "up_blocks." + b + ".resnets." + r + ".", r == 0 ? in : out, out);
            }
            if (b < rev.length - 1) {
                conv(s, d + "up_blocks." + b + ".upsamplers.0.conv", out, out, 3);
            }
            in = out;
        }
        norm(s, d + "conv_norm_out", rev[3]);
        conv(s, d + "conv_out", 3, rev[3], 3);
        return s;
    }

    /**
     * A VAE tensor. 3x3 convolutions are smooth: {@code w[o][i][y][x] = c * (u[o][i][1][1] *
     * B[y][x] + 0.1 * u[o][i][y][x])} with B the binomial kernel (centre 1) and {@code c =
     * sqrt(3 / in) / 1.5} (x 0.6 for {@code conv_out}); everything else {@link #generic}.
     */
    static float[] vaeTensor(String name, long[] shape) {
        if (shape.length != 4 || shape[2] != 3) {
            return generic("vae", name, shape);
        }
        float[] u = uniform("vae", name, numel(shape));
        double gain = name.startsWith("decoder.conv_out.") ? VAE_OUT_GAIN : 1.0;
        float c = (float) (gain * Math.sqrt(3.0 / shape[1]) / BLUR_NORM);
        float[] w = new float[u.length];
        for (int k = 0; k < u.length; k += 9) {
            float centre = u[k + 4];
            for (int j = 0; j < 9; j++) {
                w[k + j] = (centre * BLUR[j] + VAE_NOISE * u[k + j]) * c;
            }
        }
        return w;
    }

    // ---------------------------------------------------------------------------- helpers

    private static void linear(Map<String, long[]> s, String name, int out, int in) {
        s.put(name + ".weight", new long[] {out, in});
        s.put(name + ".bias", new long[] {out});
    }

    private static void norm(Map<String, long[]> s, String name, int c) {
        s.put(name + ".weight", new long[] {c});
        s.put(name + ".bias", new long[] {c});
    }

    private static void conv(Map<String, long[]> s, String name, int out, int in, int k) {
        s.put(name + ".weight", new long[] {out, in, k, k});
        s.put(name + ".bias", new long[] {out});
    }

    private static void resnet(Map<String, long[]> s, String p, int in, int out) {
        norm(s, p + "norm1", in);
        conv(s, p + "conv1", out, in, 3);
        norm(s, p + "norm2", out);
        conv(s, p + "conv2", out, out, 3);
        if (in != out) {
            conv(s, p + "conv_shortcut", out, in, 1);
        }
    }
}
