package io.github.flux4j.gguf;

import io.github.flux4j.gguf.quant.Float16;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The content of the writer's reference files under {@code reference/writer/}: every metadata
 * value type, scalar and in arrays, nested arrays, and tensors of several types and ranks, with
 * deterministic data.
 *
 * <p>{@link #main()} holds only what gguf-py's {@code GGUFWriter} can also express (nested arrays
 * of INT32, FLOAT32, BOOL and STRING; no empty arrays; no NaN), so that gguf-py can write the same
 * file. {@link #edge()} holds the rest: a custom alignment put among other keys, empty arrays
 * and strings, nested arrays of other types, special floats, non-ASCII tensor names.
 *
 * <p><b>Changing this content changes the committed files</b>; regenerate them as described in
 * {@link GgufWriterReferenceTest}.
 */
final class WriterReference {
    /** One tensor of the reference files. */
    record Tensor(String name, GgmlType type, long[] shape, byte[] bytes) {}

    private static final Map<String, Tensor> TENSORS = new LinkedHashMap<>();

    static {
        for (Tensor t : List.of(
                floats("img_in.weight", GgmlType.F32, 4, 8),
                floats("img_in.bias", GgmlType.F16, 3, 16),
                floats("double_blocks.0.img_mod.lin.weight", GgmlType.BF16, 2, 2, 32),
                random("model.diffusion_model.double_blocks.0.img_attn.qkv.weight", GgmlType.Q8_0, 2, 64),
                random("double_blocks.0.img_mlp.0.weight", GgmlType.Q4_K, 1, 256),
                random("double_blocks.0.img_mlp.2.weight", GgmlType.Q6_K, 2, 256),
                random("single_blocks.0.linear1.weight", GgmlType.Q4_0, 3, 32),
                random("positions", GgmlType.I32, 5),
                floats("final_layer.conv", GgmlType.F32, 2, 1, 3, 4),
                // edge()
                random("edge.q5k", GgmlType.Q5_K, 2, 1, 256),
                random("edge.iq4nl", GgmlType.IQ4_NL, 32),
                random("edge.f64", GgmlType.F64, 8),
                random("edge.i8", GgmlType.I8, 3),
                random("edge.exact", GgmlType.I8, 2, 64),
                random("tensör.ünïcode", GgmlType.I16, 7))) {
            TENSORS.put(t.name(), t);
        }
    }

    private WriterReference() {}

    /** The reference tensor with this stored name. */
    static Tensor tensor(String name) {
        Tensor t = TENSORS.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no reference tensor " + name);
        }
        return t;
    }

    /** {@code ours.gguf}: content that gguf-py's writer can reproduce byte for byte. */
    static GgufWriter main() {
        GgufWriter w = GgufWriter.create()
                // gguf-py's writer always writes general.architecture first.
                .put("general.architecture", GgufValue.of("flux"))
                .put("general.name", GgufValue.of("flux4j writer reference"))
                .put("test.uint8", new GgufValue.UInt8((byte) 200))
                .put("test.int8", new GgufValue.Int8((byte) -100))
                .put("test.uint16", new GgufValue.UInt16((short) 60000))
                .put("test.int16", new GgufValue.Int16((short) -30000))
                .put("test.uint32", GgufValue.uint32(4_000_000_000L))
                .put("test.int32", GgufValue.of(-2_000_000_000))
                .put("test.float32", GgufValue.of(0.1f))
                .put("test.bool", GgufValue.of(true))
                .put("test.string", GgufValue.of("héllo, 世界 🌍\n\"quoted\" \\ tab\t"))
                .put("test.uint64", new GgufValue.UInt64(-1L))
                .put("test.int64", GgufValue.of(Long.MIN_VALUE))
                .put("test.float64", GgufValue.of(Math.PI))
                .put(
                        "test.array.uint8",
                        arr(GgufValueType.UINT8, new GgufValue.UInt8((byte) 0), new GgufValue.UInt8((byte) 255)))
                .put(
                        "test.array.int8",
                        arr(GgufValueType.INT8, new GgufValue.Int8((byte) -128), new GgufValue.Int8((byte) 127)))
                .put(
                        "test.array.uint16",
                        arr(GgufValueType.UINT16, new GgufValue.UInt16((short) 65535), new GgufValue.UInt16((short) 1)))
                .put("test.array.int16", arr(GgufValueType.INT16, new GgufValue.Int16((short) -32768)))
                .put(
                        "test.array.uint32",
                        arr(GgufValueType.UINT32, GgufValue.uint32(0xFFFF_FFFFL), GgufValue.uint32(7)))
                .put("test.array.int32", GgufValue.int32s(1, -2, 3, Integer.MAX_VALUE))
                .put("test.array.float32", GgufValue.float32s(1.5f, -0.0f, 1e-30f, Float.MAX_VALUE))
                .put(
                        "test.array.bool",
                        arr(GgufValueType.BOOL, GgufValue.of(true), GgufValue.of(false), GgufValue.of(true)))
                .put("test.array.string", GgufValue.strings(List.of("a", "", "ü", "tab\there")))
                .put(
                        "test.array.uint64",
                        arr(GgufValueType.UINT64, new GgufValue.UInt64(Long.MIN_VALUE), new GgufValue.UInt64(3)))
                .put("test.array.int64", arr(GgufValueType.INT64, GgufValue.of(-1L), GgufValue.of(Long.MAX_VALUE)))
                .put(
                        "test.array.float64",
                        arr(GgufValueType.FLOAT64, GgufValue.of(-2.5), GgufValue.of(Double.MIN_VALUE)))
                .put(
                        "test.nested.int32",
                        arr(
                                GgufValueType.ARRAY,
                                GgufValue.int32s(1, 2, 3),
                                GgufValue.int32s(4),
                                GgufValue.int32s(5, 6)))
                .put(
                        "test.nested.string",
                        arr(GgufValueType.ARRAY, GgufValue.strings(List.of("x", "y")), GgufValue.strings(List.of("z"))))
                .put(
                        "test.nested.float32",
                        arr(GgufValueType.ARRAY, GgufValue.float32s(0.5f), GgufValue.float32s(-1f, 2f)))
                .put("test.nested.bool", arr(GgufValueType.ARRAY, arr(GgufValueType.BOOL, GgufValue.of(false))))
                .put(
                        "test.nested.deep",
                        arr(
                                GgufValueType.ARRAY,
                                arr(GgufValueType.ARRAY, GgufValue.int32s(1, 2), GgufValue.int32s(3)),
                                arr(GgufValueType.ARRAY, GgufValue.int32s(4))))
                .put("general.file_type", GgufValue.uint32(7));
        for (String name : List.of(
                "img_in.weight",
                "img_in.bias",
                "double_blocks.0.img_mod.lin.weight",
                "model.diffusion_model.double_blocks.0.img_attn.qkv.weight",
                "double_blocks.0.img_mlp.0.weight",
                "double_blocks.0.img_mlp.2.weight",
                "single_blocks.0.linear1.weight",
                "positions",
                "final_layer.conv")) {
            add(w, name);
        }
        return w;
    }

    /** {@code ours-edge.gguf}: what gguf-py's writer cannot express, read back by gguf-py's reader. */
    static GgufWriter edge() {
        GgufWriter w = GgufWriter.create()
                .put("general.architecture", GgufValue.of("edge"))
                .put("test.before_alignment", new GgufValue.UInt8((byte) 1))
                .put(GgufWriter.ALIGNMENT_KEY, GgufValue.uint32(64))
                .put("test.empty_string", GgufValue.of(""))
                .put("test.empty_array", arr(GgufValueType.INT64))
                .put(
                        "test.nested.mixed",
                        arr(
                                GgufValueType.ARRAY,
                                arr(GgufValueType.UINT8, new GgufValue.UInt8((byte) 1), new GgufValue.UInt8((byte) 2)),
                                arr(GgufValueType.UINT64, new GgufValue.UInt64(-2L)),
                                arr(GgufValueType.STRING),
                                arr(GgufValueType.ARRAY, arr(GgufValueType.FLOAT64, GgufValue.of(1e300)))))
                .put("test.nested.empty", arr(GgufValueType.ARRAY))
                .put(
                        "test.float32.special",
                        GgufValue.float32s(
                                Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE))
                .put(
                        "test.float64.special",
                        arr(GgufValueType.FLOAT64, GgufValue.of(Double.NaN), GgufValue.of(Double.NEGATIVE_INFINITY)))
                .put("test.ünïcode.kéy", GgufValue.of("☃"));
        for (String name : List.of("edge.q5k", "edge.iq4nl", "edge.f64", "edge.i8", "edge.exact", "tensör.ünïcode")) {
            add(w, name);
        }
        return w;
    }

    private static void add(GgufWriter w, String name) {
        Tensor t = tensor(name);
        w.addTensor(t.name(), t.type(), t.shape(), ByteBuffer.wrap(t.bytes()));
    }

    private static GgufValue arr(GgufValueType type, GgufValue... elements) {
        return new GgufValue.Array(type, Arrays.asList(elements));
    }

    /** Smooth float data, stored as F32, F16 or BF16. */
    private static Tensor floats(String name, GgmlType type, long... shape) {
        int n = (int) Arrays.stream(shape).reduce(1, Math::multiplyExact);
        ByteBuffer b = ByteBuffer.allocate((int) type.byteSize(n)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = (float) Math.sin(i * 0.37 + name.length()) * 3f;
            switch (type) {
                case F32 -> b.putFloat(v);
                case F16 -> b.putShort(Float16.fromFloat(v));
                case BF16 -> b.putShort(Float16.floatToBf16(v));
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        return new Tensor(name, type, shape, b.array());
    }

    /** Pseudo-random bytes (a writer does not care what quantized blocks hold), seeded by the name. */
    private static Tensor random(String name, GgmlType type, long... shape) {
        long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
        byte[] bytes = new byte[(int) type.byteSize(n)];
        long x = 0x9E3779B97F4A7C15L ^ Arrays.hashCode(name.getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < bytes.length; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            bytes[i] = (byte) (x >>> 32);
        }
        return new Tensor(name, type, shape, bytes);
    }

    /** All reference tensors (for tests that look them up by name). */
    static List<Tensor> tensors() {
        return new ArrayList<>(TENSORS.values());
    }
}
