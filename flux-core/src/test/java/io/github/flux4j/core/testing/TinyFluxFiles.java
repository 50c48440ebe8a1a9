package io.github.flux4j.core.testing;

import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufValue;
import io.github.flux4j.gguf.GgufWriter;
import io.github.flux4j.gguf.quant.Float16;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The tiny FLUX transformers of {@code tools/reference/tiny_flux.py}, regenerated bit for bit:
 * deterministic weights (splitmix64 streams seeded from the tensor names), written as GGUF with
 * the project's {@link GgufWriter}, plus the test-time BFL safetensors file and diffusers folder.
 * The generator is specified in {@code tools/reference/TINY_FLUX.md}; the committed manifest
 * {@code reference/flux/manifest.tsv} holds every tensor's sha256 (checked by
 * {@code TinyFluxFilesTest}), and {@code reference/flux/<variant>.safetensors} diffusers' outputs
 * for each file.
 *
 * <pre>{@code
 * Path gguf = TinyFluxFiles.write(TinyFluxFiles.Variant.DEV_Q4_K, tempDir);
 * Path folder = TinyFluxFiles.writeDiffusersFolder(tempDir);   // tiny-flux-dev-diffusers/
 * }</pre>
 */
public final class TinyFluxFiles {
    /** Model shape: hidden = heads x head_dim. */
    public static final int HIDDEN = 256;

    public static final int HEADS = 2;
    public static final int HEAD_DIM = 128;
    public static final int IN_CHANNELS = 64;
    /** T5 width (txt_in's in_features); differs from IN_CHANNELS on purpose. */
    public static final int JOINT_DIM = 128;
    /** CLIP pooled width (vector_in's in_features). */
    public static final int POOLED_DIM = 96;

    public static final int MLP = 4 * HIDDEN;
    public static final int NUM_DOUBLE = 2;
    public static final int NUM_SINGLE = 2;
    public static final int[] AXES_DIMS_ROPE = {16, 56, 56};

    public static final String PREFIX = "model.diffusion_model.";
    /** ASCII "FLUXTINY". */
    public static final long GLOBAL_SEED = 0x464C5558_54494E59L;

    /** Classpath folder of the committed reference data. */
    public static final String RESOURCE_DIR = "/reference/flux/";
    /** File name of the test-time BFL-format safetensors (the DEV_F32 weights). */
    public static final String BFL_SAFETENSORS = "tiny-flux-dev-F32.safetensors";
    /** Folder name of the test-time diffusers-format transformer (the DEV_F32 weights). */
    public static final String DIFFUSERS_FOLDER = "tiny-flux-dev-diffusers";

    public static final String DIFFUSERS_INDEX = "diffusion_pytorch_model.safetensors.index.json";

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final float BIAS_SCALE = 0x1p-4f;
    private static final float NORM_SCALE = 0x1p-2f;
    private static final float NORM_OFFSET = 1.0f;
    private static final List<String> EMBEDDER_PREFIXES =
            List.of("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.", "final_layer.");
    private static final List<String> INPUT_EMBEDDER_PREFIXES =
            List.of("img_in.", "txt_in.", "time_in.", "vector_in.", "guidance_in.");
    private static final List<String> MODULATION_SUFFIXES =
            List.of("_mod.lin.weight", "modulation.lin.weight", "adaLN_modulation.1.weight");

    private TinyFluxFiles() {}

    /** The GGUF files, as in the manifest. */
    public enum Variant {
        DEV_F32("tiny-flux-dev-F32", true, GgmlType.F32, GgmlType.F32, "", true, null),
        DEV_BF16("tiny-flux-dev-BF16", true, GgmlType.BF16, GgmlType.BF16, "", true, null),
        DEV_Q8_0("tiny-flux-dev-Q8_0", true, GgmlType.Q8_0, GgmlType.F16, "", true, null),
        DEV_Q4_0("tiny-flux-dev-Q4_0", true, GgmlType.Q4_0, GgmlType.BF16, "", true, null),
        DEV_Q5_1("tiny-flux-dev-Q5_1", true, GgmlType.Q5_1, GgmlType.F16, "", true, null),
        DEV_Q4_K("tiny-flux-dev-Q4_K", true, GgmlType.Q4_K, GgmlType.BF16, "", true, null),
        DEV_Q6_K("tiny-flux-dev-Q6_K", true, GgmlType.Q6_K, GgmlType.BF16, "", true, null),
        SCHNELL_F32("tiny-flux-schnell-F32", false, GgmlType.F32, GgmlType.F32, "", true, null),
        SCHNELL_Q8_0("tiny-flux-schnell-Q8_0", false, GgmlType.Q8_0, GgmlType.F16, "", true, null),
        /** DEV_Q8_0 with every name prefixed by {@code model.diffusion_model.}. */
        DEV_Q8_0_PREFIXED("tiny-flux-dev-Q8_0-prefixed", true, GgmlType.Q8_0, GgmlType.F16, PREFIX, true, "DEV_Q8_0"),
        /** DEV_Q4_K without any metadata (stable-diffusion.cpp style: no general.architecture). */
        DEV_Q4_K_NOARCH("tiny-flux-dev-Q4_K-noarch", true, GgmlType.Q4_K, GgmlType.BF16, "", false, "DEV_Q4_K");

        private final String baseName;
        private final boolean guidance;
        private final GgmlType matrixType;
        private final GgmlType embedderType;
        private final String prefix;
        private final boolean architecture;
        private final String base;

        Variant(
                String baseName,
                boolean guidance,
                GgmlType matrixType,
                GgmlType embedderType,
                String prefix,
                boolean architecture,
                String base) {
            this.baseName = baseName;
            this.guidance = guidance;
            this.matrixType = matrixType;
            this.embedderType = embedderType;
            this.prefix = prefix;
            this.architecture = architecture;
            this.base = base;
        }

        /** The name without extension, e.g. {@code tiny-flux-dev-Q8_0}; also the reference file's name. */
        public String variantName() {
            return baseName;
        }

        /** The GGUF file name. */
        public String fileName() {
            return baseName + ".gguf";
        }

        /** The reference outputs: {@code reference/flux/<variant>.safetensors} on the classpath. */
        public String referenceResource() {
            return RESOURCE_DIR + baseName + ".safetensors";
        }

        /** True for dev (guidance_in present), false for schnell. */
        public boolean guidance() {
            return guidance;
        }

        /** Type of the block matrices (the file's quantization). */
        public GgmlType matrixType() {
            return matrixType;
        }

        /** Type of the 2-D embedder and final_layer weights (never quantized). */
        public GgmlType embedderType() {
            return embedderType;
        }

        /** Prefix of every tensor name ("" or {@code model.diffusion_model.}). */
        public String prefix() {
            return prefix;
        }

        /** False for the stable-diffusion.cpp-style file without any metadata. */
        public boolean hasArchitecture() {
            return architecture;
        }

        /** The variant whose weights and reference outputs this one shares, if any. */
        public Variant base() {
            return base == null ? this : Variant.valueOf(base);
        }

        /** general.file_type (llama.cpp's LlamaFileType) written for this file. */
        public int fileType() {
            return switch (matrixType) {
                case F32 -> 0;
                case BF16 -> 32;
                case Q8_0 -> 7;
                case Q4_0 -> 2;
                case Q5_1 -> 9;
                case Q4_K -> 14;
                case Q6_K -> 18;
                default -> throw new IllegalStateException(matrixType.toString());
            };
        }
    }

    /**
     * One generated tensor.
     *
     * @param name      the name in the file (with the variant's prefix)
     * @param canonical the name without prefix, which seeds its stream
     * @param type      its GGML type
     * @param shape     PyTorch order (outermost first)
     * @param data      the raw GGUF bytes
     */
    public record Tensor(String name, String canonical, GgmlType type, long[] shape, byte[] data) {
        public ByteBuffer buffer() {
            return ByteBuffer.wrap(data)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .asReadOnlyBuffer()
                    .order(ByteOrder.LITTLE_ENDIAN);
        }

        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Tensor list

    /** BFL names and PyTorch shapes of the tiny model, sorted by name (the file order). */
    public static Map<String, long[]> shapes(boolean guidance) {
        FluxConfig config = new FluxConfig(
                IN_CHANNELS,
                POOLED_DIM,
                JOINT_DIM,
                HIDDEN,
                (double) MLP / HIDDEN,
                HIDDEN / HEAD_DIM,
                NUM_DOUBLE,
                NUM_SINGLE,
                FluxConfig.DEFAULT_AXES,
                10_000,
                true,
                guidance);
        return new LinkedHashMap<>(new TreeMap<>(config.bflTensorShapes()));
    }

    /** The type a tensor gets in a variant: 1-D F32, embedders the embedder type, else the matrix type. */
    public static GgmlType typeOf(Variant v, String canonical, long[] shape) {
        if (shape.length == 1) {
            return GgmlType.F32;
        }
        for (String p : EMBEDDER_PREFIXES) {
            if (canonical.startsWith(p)) {
                return v.embedderType();
            }
        }
        return v.matrixType();
    }

    /** log2 of a 2-D weight's gain: 2 for modulation linears, 1 for the input embedders, else 0. */
    public static int gainLog2(String canonical) {
        for (String s : MODULATION_SUFFIXES) {
            if (canonical.endsWith(s)) {
                return 2;
            }
        }
        for (String p : INPUT_EMBEDDER_PREFIXES) {
            if (canonical.startsWith(p)) {
                return 1;
            }
        }
        return 0;
    }

    /** The float rule's scale for a tensor. */
    public static float floatScale(String canonical, long[] shape) {
        if (shape.length == 2) {
            return (float) (Math.scalb(1.0, gainLog2(canonical)) / Math.sqrt(shape[1]));
        }
        return canonical.endsWith(".scale") ? NORM_SCALE : BIAS_SCALE;
    }

    /** The float rule's offset for a tensor. */
    public static float floatOffset(String canonical, long[] shape) {
        return shape.length == 1 && canonical.endsWith(".scale") ? NORM_OFFSET : 0.0f;
    }

    // -----------------------------------------------------------------------------------------
    // The generator

    /** FNV-1a 64 of the UTF-8 bytes. */
    public static long fnv1a64(String s) {
        long h = 0xCBF29CE484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001B3L;
        }
        return h;
    }

    /** The stream seed of a tensor (or input) name. */
    public static long tensorSeed(String canonical) {
        return fnv1a64(canonical) ^ GLOBAL_SEED;
    }

    /** splitmix64's output function. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Output k (0-based) of splitmix64 started at state {@code seed}. */
    public static long splitmix64(long seed, long k) {
        return mix(seed + (k + 1) * GOLDEN);
    }

    /** value_i = f32(f32(r_i * scale) + offset), r_i = f32(z_i >>> 40) * 2^-23 - 1. */
    public static float[] floatValues(long seed, int n, float scale, float offset) {
        float[] out = new float[n];
        long state = seed;
        for (int i = 0; i < n; i++) {
            state += GOLDEN;
            float r = (float) (mix(state) >>> 40) * 0x1p-23f - 1.0f;
            float v = r * scale;
            if (offset != 0.0f) {
                v = v + offset;
            }
            out[i] = v;
        }
        return out;
    }

    /** The first n bytes of the stream (each output little-endian, the last one cut). */
    public static byte[] streamBytes(long seed, int n) {
        byte[] out = new byte[n];
        long state = seed;
        for (int i = 0; i < n; i += 8) {
            state += GOLDEN;
            long z = mix(state);
            for (int b = 0; b < 8 && i + b < n; b++) {
                out[i + b] = (byte) (z >>> (8 * b));
            }
        }
        return out;
    }

    /** Binary exponent of the d field per quantized matrix type, before the tensor's gain. */
    public static int quantExponent(GgmlType type) {
        return switch (type) {
            case Q8_0 -> -12;
            case Q4_0 -> -8;
            case Q5_1 -> -9;
            case Q4_K, Q6_K -> -14;
            default -> throw new IllegalArgumentException("no quant rule for " + type);
        };
    }

    /** Whether the d field's sign is random (else positive). */
    public static boolean quantSigned(GgmlType type) {
        return type == GgmlType.Q8_0 || type == GgmlType.Q4_0 || type == GgmlType.Q6_K;
    }

    private static int dOffset(GgmlType type) {
        return type == GgmlType.Q6_K ? 208 : 0;
    }

    /** Raw blocks from the stream, with the scale fields patched (see TINY_FLUX.md). */
    public static byte[] quantBytes(long seed, GgmlType type, long[] shape, int gainLog2) {
        long rows = shape[0];
        long cols = shape[1];
        if (cols % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " needs rows of whole blocks: " + Arrays.toString(shape));
        }
        long nblocks = rows * cols / type.blockSize();
        int ts = type.typeSize();
        byte[] raw = streamBytes(seed, Math.toIntExact(nblocks * ts));
        int off = dOffset(type);
        int e = quantExponent(type) + gainLog2;
        boolean signed = quantSigned(type);
        for (int b = 0; b < nblocks; b++) {
            int o = b * ts;
            int h = (raw[o + off] & 0xFF) | (raw[o + off + 1] & 0xFF) << 8;
            int j = h & 0xFF;
            int sign = signed ? h & 0x8000 : 0;
            putHalf(raw, o + off, half(sign, e, j));
            switch (type) {
                case Q5_1 -> putHalf(raw, o + 2, half(0x8000, e + 4, j)); // m = -16 d
                case Q4_K -> putHalf(raw, o + 2, half(0, e + 3, j)); // dmin = 8 d
                case Q6_K -> {
                    for (int k = 192; k < 208; k++) { // int8 scales >> 2
                        raw[o + k] = (byte) (raw[o + k] >> 2);
                    }
                }
                default -> {}
            }
        }
        return raw;
    }

    private static int half(int sign, int exp, int j) {
        if (exp < -14 || exp > 15) {
            throw new IllegalArgumentException("exponent " + exp + " is not a normal half");
        }
        return sign | (exp + 15) << 10 | j << 2;
    }

    private static void putHalf(byte[] raw, int at, int bits) {
        raw[at] = (byte) bits;
        raw[at + 1] = (byte) (bits >>> 8);
    }

    /** The float rule's values of a tensor (float32, before any F16/BF16 rounding). */
    public static float[] floatValues(String canonical, long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return floatValues(
                tensorSeed(canonical), Math.toIntExact(n), floatScale(canonical, shape), floatOffset(canonical, shape));
    }

    /** Every tensor of a variant, in file order. */
    public static List<Tensor> tensors(Variant v) {
        List<Tensor> out = new ArrayList<>();
        for (Map.Entry<String, long[]> en : shapes(v.guidance()).entrySet()) {
            String canonical = en.getKey();
            long[] shape = en.getValue();
            GgmlType type = typeOf(v, canonical, shape);
            byte[] data;
            if (type == GgmlType.F32 || type == GgmlType.F16 || type == GgmlType.BF16) {
                data = encode(floatValues(canonical, shape), type);
            } else {
                data = quantBytes(tensorSeed(canonical), type, shape, gainLog2(canonical));
            }
            out.add(new Tensor(v.prefix() + canonical, canonical, type, shape.clone(), data));
        }
        return out;
    }

    private static byte[] encode(float[] values, GgmlType type) {
        ByteBuffer b = ByteBuffer.allocate(values.length * (type == GgmlType.F32 ? 4 : 2))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (float f : values) {
            switch (type) {
                case F32 -> b.putFloat(f);
                case F16 -> b.putShort(Float16.fromFloat(f));
                case BF16 -> b.putShort(Float16.floatToBf16(f));
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        return b.array();
    }

    // -----------------------------------------------------------------------------------------
    // Files

    /** Writes the variant's GGUF file into {@code dir}; returns its path. */
    public static Path write(Variant v, Path dir) throws IOException {
        return write(v, dir, tensors(v));
    }

    /** Writes the variant's GGUF file from already generated tensors. */
    public static Path write(Variant v, Path dir, List<Tensor> tensors) throws IOException {
        GgufWriter w = GgufWriter.create();
        if (v.hasArchitecture()) {
            w.put("general.architecture", new GgufValue.Str("flux"));
            w.put("general.quantization_version", new GgufValue.UInt32(2));
            w.put("general.file_type", new GgufValue.UInt32(v.fileType()));
        }
        for (Tensor t : tensors) {
            w.addTensor(t.name(), t.type(), t.shape(), ByteBuffer.wrap(t.data()));
        }
        Files.createDirectories(dir);
        Path path = dir.resolve(v.fileName());
        w.write(path);
        return path;
    }

    /** The DEV_F32 weights by BFL name (float32, row-major), sorted by name. */
    public static Map<String, float[]> bflWeights() {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> en : shapes(true).entrySet()) {
            out.put(en.getKey(), floatValues(en.getKey(), en.getValue()));
        }
        return out;
    }

    /**
     * Writes {@code tiny-flux-dev-F32.safetensors} into {@code dir}: the DEV_F32 weights under
     * their BFL names (= the GGUF names), F32, sorted by name.
     */
    public static Path writeBflSafetensors(Path dir) throws IOException {
        Map<String, long[]> shapes = shapes(true);
        List<NamedArray> list = new ArrayList<>();
        bflWeights().forEach((k, a) -> list.add(new NamedArray(k, shapes.get(k), a)));
        Files.createDirectories(dir);
        Path path = dir.resolve(BFL_SAFETENSORS);
        Files.write(path, safetensors(list));
        return path;
    }

    /**
     * Writes the diffusers-format folder {@code tiny-flux-dev-diffusers/} into {@code dir}:
     * {@code config.json} (the committed dev config), two F32 shards (00001: every
     * {@code transformer_blocks.*} tensor; 00002: the rest; each sorted by name) and
     * {@code diffusion_pytorch_model.safetensors.index.json}. Returns the folder.
     */
    public static Path writeDiffusersFolder(Path dir) throws IOException {
        Map<String, NamedArray> diff = diffusersWeights();
        Path folder = dir.resolve(DIFFUSERS_FOLDER);
        Files.createDirectories(folder);
        List<List<NamedArray>> shards = List.of(new ArrayList<>(), new ArrayList<>());
        for (NamedArray a : diff.values()) {
            shards.get(a.name().startsWith("transformer_blocks.") ? 0 : 1).add(a);
        }
        TreeMap<String, String> weightMap = new TreeMap<>();
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
            String file = String.format("diffusion_pytorch_model-%05d-of-%05d.safetensors", i + 1, shards.size());
            Files.write(folder.resolve(file), safetensors(shards.get(i)));
            for (NamedArray a : shards.get(i)) {
                weightMap.put(a.name(), file);
                total += 4L * a.data().length;
            }
        }
        StringBuilder idx = new StringBuilder("{\"metadata\":{\"total_size\":")
                .append(total)
                .append("},\"weight_map\":{");
        boolean first = true;
        for (Map.Entry<String, String> en : weightMap.entrySet()) {
            idx.append(first ? "" : ",")
                    .append('"')
                    .append(en.getKey())
                    .append("\":\"")
                    .append(en.getValue())
                    .append('"');
            first = false;
        }
        idx.append("}}\n");
        Files.writeString(folder.resolve(DIFFUSERS_INDEX), idx, StandardCharsets.US_ASCII);
        Files.write(folder.resolve("config.json"), configJson(true));
        return folder;
    }

    /** The committed diffusers config.json of the tiny dev or schnell model. */
    public static byte[] configJson(boolean guidance) {
        String res = RESOURCE_DIR + "config/" + (guidance ? "dev" : "schnell") + "/config.json";
        try (InputStream in = Objects.requireNonNull(TinyFluxFiles.class.getResourceAsStream(res), res)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A float32 tensor with its name and shape. */
    public record NamedArray(String name, long[] shape, float[] data) {}

    /**
     * The DEV_F32 weights under diffusers' names, sorted by name: BFL's qkv and linear1 split
     * along the rows, final_layer.adaLN_modulation.1's two row halves swapped (see TINY_FLUX.md).
     */
    public static Map<String, NamedArray> diffusersWeights() {
        Map<String, float[]> bfl = bflWeights();
        Map<String, long[]> shapes = shapes(true);
        TreeMap<String, NamedArray> d = new TreeMap<>();
        java.util.function.BiConsumer<String, String> lin = (src, dst) -> {
            for (String suffix : List.of(".weight", ".bias")) {
                d.put(dst + suffix, new NamedArray(dst + suffix, shapes.get(src + suffix), bfl.get(src + suffix)));
            }
        };
        java.util.function.BiConsumer<String, String> copy =
                (src, dst) -> d.put(dst, new NamedArray(dst, shapes.get(src), bfl.get(src)));
        lin.accept("img_in", "x_embedder");
        lin.accept("txt_in", "context_embedder");
        lin.accept("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1");
        lin.accept("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2");
        lin.accept("vector_in.in_layer", "time_text_embed.text_embedder.linear_1");
        lin.accept("vector_in.out_layer", "time_text_embed.text_embedder.linear_2");
        lin.accept("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1");
        lin.accept("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2");
        for (int i = 0; i < NUM_DOUBLE; i++) {
            String s = "double_blocks." + i + ".";
            String t = "transformer_blocks." + i + ".";
            lin.accept(s + "img_mod.lin", t + "norm1.linear");
            lin.accept(s + "txt_mod.lin", t + "norm1_context.linear");
            for (String suffix : List.of("weight", "bias")) {
                splitRows(
                        d,
                        shapes,
                        bfl,
                        s + "img_attn.qkv." + suffix,
                        new int[] {HIDDEN, HIDDEN, HIDDEN},
                        List.of(t + "attn.to_q." + suffix, t + "attn.to_k." + suffix, t + "attn.to_v." + suffix));
                splitRows(
                        d,
                        shapes,
                        bfl,
                        s + "txt_attn.qkv." + suffix,
                        new int[] {HIDDEN, HIDDEN, HIDDEN},
                        List.of(
                                t + "attn.add_q_proj." + suffix,
                                t + "attn.add_k_proj." + suffix,
                                t + "attn.add_v_proj." + suffix));
            }
            copy.accept(s + "img_attn.norm.query_norm.scale", t + "attn.norm_q.weight");
            copy.accept(s + "img_attn.norm.key_norm.scale", t + "attn.norm_k.weight");
            copy.accept(s + "txt_attn.norm.query_norm.scale", t + "attn.norm_added_q.weight");
            copy.accept(s + "txt_attn.norm.key_norm.scale", t + "attn.norm_added_k.weight");
            lin.accept(s + "img_attn.proj", t + "attn.to_out.0");
            lin.accept(s + "txt_attn.proj", t + "attn.to_add_out");
            lin.accept(s + "img_mlp.0", t + "ff.net.0.proj");
            lin.accept(s + "img_mlp.2", t + "ff.net.2");
            lin.accept(s + "txt_mlp.0", t + "ff_context.net.0.proj");
            lin.accept(s + "txt_mlp.2", t + "ff_context.net.2");
        }
        for (int i = 0; i < NUM_SINGLE; i++) {
            String s = "single_blocks." + i + ".";
            String t = "single_transformer_blocks." + i + ".";
            for (String suffix : List.of("weight", "bias")) {
                splitRows(
                        d,
                        shapes,
                        bfl,
                        s + "linear1." + suffix,
                        new int[] {HIDDEN, HIDDEN, HIDDEN, MLP},
                        List.of(
                                t + "attn.to_q." + suffix,
                                t + "attn.to_k." + suffix,
                                t + "attn.to_v." + suffix,
                                t + "proj_mlp." + suffix));
            }
            copy.accept(s + "norm.query_norm.scale", t + "attn.norm_q.weight");
            copy.accept(s + "norm.key_norm.scale", t + "attn.norm_k.weight");
            lin.accept(s + "linear2", t + "proj_out");
            lin.accept(s + "modulation.lin", t + "norm.linear");
        }
        lin.accept("final_layer.linear", "proj_out");
        for (String suffix : List.of("weight", "bias")) {
            String src = "final_layer.adaLN_modulation.1." + suffix;
            long[] shape = shapes.get(src);
            float[] a = bfl.get(src);
            float[] swapped = new float[a.length];
            int half = a.length / 2; // rows [shift; scale] -> [scale; shift]
            System.arraycopy(a, half, swapped, 0, half);
            System.arraycopy(a, 0, swapped, half, half);
            String dst = "norm_out.linear." + suffix;
            d.put(dst, new NamedArray(dst, shape, swapped));
        }
        return new LinkedHashMap<>(d);
    }

    private static void splitRows(
            Map<String, NamedArray> d,
            Map<String, long[]> shapes,
            Map<String, float[]> bfl,
            String src,
            int[] rows,
            List<String> dst) {
        long[] shape = shapes.get(src);
        float[] a = bfl.get(src);
        int rowLen = shape.length == 2 ? (int) shape[1] : 1;
        int from = 0;
        for (int p = 0; p < rows.length; p++) {
            long[] s = shape.clone();
            s[0] = rows[p];
            float[] part = Arrays.copyOfRange(a, from, from + rows[p] * rowLen);
            from += rows[p] * rowLen;
            d.put(dst.get(p), new NamedArray(dst.get(p), s, part));
        }
        if (from != a.length) {
            throw new IllegalStateException(src + ": rows do not add up");
        }
    }

    /**
     * A safetensors file, byte for byte as tiny_flux.py's {@code write_safetensors}: u64 LE header
     * length, the compact JSON header ({@code __metadata__} {"format":"pt"} first, then each
     * tensor in the given order with dtype, shape, data_offsets) padded with spaces to a
     * multiple of 8, then the F32 data in order.
     */
    public static byte[] safetensors(List<NamedArray> tensors) {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (NamedArray t : tensors) {
            long bytes = 4L * t.data().length;
            h.append(",\"").append(t.name()).append("\":{\"dtype\":\"F32\",\"shape\":[");
            for (int i = 0; i < t.shape().length; i++) {
                h.append(i == 0 ? "" : ",").append(t.shape()[i]);
            }
            h.append("],\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(offset + bytes)
                    .append("]}");
            offset += bytes;
        }
        h.append('}');
        while (h.length() % 8 != 0) {
            h.append(' ');
        }
        byte[] header = h.toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b =
                ByteBuffer.allocate(Math.toIntExact(8 + header.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        for (NamedArray t : tensors) {
            for (float f : t.data()) {
                b.putFloat(f);
            }
        }
        return b.array();
    }
}
