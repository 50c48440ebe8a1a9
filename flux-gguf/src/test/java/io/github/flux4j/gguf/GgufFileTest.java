package io.github.flux4j.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.gguf.quant.Dequantizer;
import java.io.IOException;
import java.math.BigInteger;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reads GGUF files written by gguf-py with FLUX's conventions and compares everything with what
 * gguf-py itself read from them (tools/reference/gguf_reader_refs.py).
 */
class GgufFileTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path resource(String name) {
        try {
            return Path.of(
                    GgufFileTest.class.getResource("/reference/reader/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"flux_conventions", "prefixed"})
    void metadataEqualsGgufPy(String file) throws IOException {
        try (GgufFile gguf = GgufFile.open(resource(file + ".gguf"))) {
            List<String[]> meta = manifest(file, "meta");
            // gguf-py lists general.alignment etc. like any other key: same keys, same order
            assertThat(gguf.metadata().keys())
                    .containsExactlyElementsOf(meta.stream().map(m -> m[1]).toList());
            for (String[] m : meta) {
                GgufValue v = gguf.metadata().get(m[1]);
                assertThat(typeName(v)).as(m[1]).isEqualTo(m[2]);
                // Both sides through Jackson's writer, so that 2 (int) and 2 (long) compare equal
                // and doubles print alike.
                JsonNode expected = JSON.readTree(m[3]);
                assertThat(JSON.writeValueAsString(flatten(v))).as(m[1]).isEqualTo(JSON.writeValueAsString(expected));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"flux_conventions", "prefixed"})
    void aTensorsMappingCanBeGivenBackAtOnce(String file) throws IOException {
        float[] expected = floats(resource(file + ".f32"));
        try (GgufFile gguf = GgufFile.open(resource(file + ".gguf"))) {
            TensorInfo t = gguf.tensors().get(0);
            ByteBuffer data = gguf.tensorData(t);
            // read once (the values gguf-py gives), then unmapped: only the mapping itself can be,
            // not a view of it or a heap buffer, which are left to the garbage collector
            float[] ours = Dequantizer.dequantize(t.type(), data, t.name(), t.elementCount());
            int from = Integer.parseInt(manifest(file, "tensor").get(0)[6]);
            assertThat(Float.floatToRawIntBits(ours[0])).isEqualTo(Float.floatToRawIntBits(expected[from]));
            assertThat(MappedRegions.unmap(data.duplicate())).isFalse();
            assertThat(MappedRegions.unmap(ByteBuffer.allocate(16))).isFalse();
            assertThat(MappedRegions.unmap(data)).isTrue();
            // each call maps anew, so the file still reads after one of its mappings is gone
            float[] again = Dequantizer.dequantize(t.type(), gguf.tensorData(t), t.name(), t.elementCount());
            assertThat(again).isEqualTo(ours);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"flux_conventions", "prefixed"})
    void tensorsAndDequantizedValuesEqualGgufPy(String file) throws IOException {
        float[] expected = floats(resource(file + ".f32"));
        try (GgufFile gguf = GgufFile.open(resource(file + ".gguf"))) {
            List<String[]> rows = manifest(file, "tensor");
            assertThat(gguf.tensors()).hasSize(rows.size());
            for (int i = 0; i < rows.size(); i++) {
                String[] r = rows.get(i);
                TensorInfo t = gguf.tensors().get(i);
                assertThat(t.storedName()).isEqualTo(r[1]);
                assertThat(t.type().name()).isEqualTo(r[2]);
                long[] ggmlDims = Arrays.stream(r[3].split(","))
                        .mapToLong(Long::parseLong)
                        .toArray();
                long[] rowMajor = new long[ggmlDims.length];
                for (int d = 0; d < ggmlDims.length; d++) {
                    rowMajor[d] = ggmlDims[ggmlDims.length - 1 - d];
                }
                if (!t.storedName().equals("shape_fix.weight")) {
                    assertThat(t.shape()).as(t.name()).containsExactly(rowMajor);
                }
                assertThat(t.offset()).as(t.name()).isEqualTo(Long.parseLong(r[4]));
                assertThat(t.byteSize()).as(t.name()).isEqualTo(Long.parseLong(r[5]));
                int from = Integer.parseInt(r[6]);
                int count = Integer.parseInt(r[7]);
                assertThat(t.elementCount()).isEqualTo(count);

                ByteBuffer data = gguf.tensorData(t);
                assertThat(data.isReadOnly()).isTrue();
                assertThat(data.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
                assertThat(data.remaining()).isEqualTo((int) t.byteSize());
                float[] ours = Dequantizer.dequantize(t.type(), data, t.name(), t.elementCount());
                for (int k = 0; k < count; k++) {
                    if (Float.floatToRawIntBits(ours[k]) != Float.floatToRawIntBits(expected[from + k])) {
                        throw new AssertionError(
                                t.name() + "[" + k + "]: " + ours[k] + " != gguf-py " + expected[from + k]);
                    }
                }
            }
        }
    }

    @Test
    void fluxConventionsAreApplied() throws IOException {
        try (GgufFile gguf = GgufFile.open(resource("flux_conventions.gguf"))) {
            assertThat(gguf.version()).isEqualTo(3);
            assertThat(gguf.alignment()).isEqualTo(GgufFile.DEFAULT_ALIGNMENT);
            assertThat(gguf.dataOffset() % 32).isZero();
            assertThat(gguf.metadata().getString("general.architecture")).isEqualTo("flux");
            TensorInfo qkv = gguf.tensor("double_blocks.0.img_attn.qkv.weight");
            assertThat(qkv.type()).isEqualTo(GgmlType.Q8_0);
            assertThat(qkv.shape()).containsExactly(192, 64); // [out, in], as PyTorch holds it
            assertThat(gguf.tensor("test.rank4").shape()).containsExactly(2, 1, 3, 5);
            // comfy.gguf.orig_shape overrides the stored [4, 256]
            assertThat(gguf.tensor("shape_fix.weight").shape()).containsExactly(2, 2, 256);
            assertThat(gguf.findTensor("no.such.tensor")).isEmpty();
            assertThatThrownBy(() -> gguf.tensor("no.such.tensor"))
                    .isInstanceOf(GgufException.class)
                    .hasMessageContaining("no.such.tensor")
                    .hasMessageContaining("flux_conventions.gguf");
        }
    }

    @Test
    void typedMetadataAccessors() throws IOException {
        try (GgufFile gguf = GgufFile.open(resource("flux_conventions.gguf"))) {
            GgufMetadata m = gguf.metadata();
            assertThat(m.getInt("test.u16")).isEqualTo(60000);
            assertThat(m.getLong("test.u32")).isEqualTo(4_000_000_000L);
            assertThat(m.findInt("general.quantization_version")).contains(2);
            assertThat(m.findString("general.name")).isEmpty();
            assertThat(m.getFloat("test.f32")).isEqualTo(0.1f);
            assertThat(m.getDouble("test.f64")).isEqualTo(2.718281828459045);
            assertThat(m.getBoolean("test.bool_true")).isTrue();
            assertThat(m.getArray("test.array_str").asStrings()).containsExactly("a", "", "double_blocks.0", "ß");
            assertThat(m.getArray("test.array_i32").asLongs()).containsExactly(1, -2, 3, -4);
            assertThat(m.getArray("test.array_f32").asFloats()).containsExactly(0.5f, -1.25f, 3.0e-8f);
            GgufValue.Array nested = m.getArray("test.array_nested");
            assertThat(nested.elementType()).isEqualTo(GgufValueType.ARRAY);
            assertThat(nested.elements()).hasSize(3);
            assertThat(((GgufValue.Array) nested.elements().get(2)).asLongs()).containsExactly(4, 5, 6);

            assertThatThrownBy(() -> m.getString("test.u8"))
                    .isInstanceOf(GgufMetadataException.class)
                    .hasMessageContaining("test.u8")
                    .hasMessageContaining("UINT8");
            assertThatThrownBy(() -> m.getInt("test.u32"))
                    .isInstanceOf(GgufMetadataException.class)
                    .hasMessageContaining("test.u32");
            assertThatThrownBy(() -> m.getLong("test.u64"))
                    .isInstanceOf(GgufMetadataException.class)
                    .hasMessageContaining("18000000000000000000");
            assertThatThrownBy(() -> m.getString("missing.key"))
                    .isInstanceOf(GgufMetadataException.class)
                    .hasMessageContaining("missing.key");
            assertThatThrownBy(() -> m.findBoolean("test.string")).isInstanceOf(GgufMetadataException.class);
        }
    }

    @Test
    void diffusionModelPrefixAndAlignmentAndMissingArchitecture() throws IOException {
        try (GgufFile gguf = GgufFile.open(resource("prefixed.gguf"))) {
            assertThat(gguf.alignment()).isEqualTo(64);
            assertThat(gguf.dataOffset() % 64).isZero();
            assertThat(gguf.metadata().findString("general.architecture")).isEmpty();
            TensorInfo t = gguf.tensor("img_in.weight");
            assertThat(t.name()).isEqualTo("img_in.weight");
            assertThat(t.storedName()).isEqualTo("model.diffusion_model.img_in.weight");
            assertThat(gguf.tensor("model.diffusion_model.img_in.weight")).isEqualTo(t);
            for (TensorInfo info : gguf.tensors()) {
                assertThat(info.offset() % 64).isZero();
            }
        }
    }

    @Test
    void partialMappingAndClose() throws IOException {
        GgufFile gguf = GgufFile.open(resource("flux_conventions.gguf"));
        TensorInfo t = gguf.tensor("img_in.weight");
        ByteBuffer whole = gguf.tensorData(t);
        ByteBuffer part = gguf.tensorData(t, 100, 50);
        for (int i = 0; i < 50; i++) {
            assertThat(part.get(i)).isEqualTo(whole.get(100 + i));
        }
        assertThatThrownBy(() -> gguf.tensorData(t, t.byteSize() - 10, 20))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("img_in.weight");
        gguf.close();
        assertThatThrownBy(() -> gguf.tensorData(t))
                .isInstanceOf(GgufException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void tensorFromAnotherFileIsRejected() throws IOException {
        try (GgufFile a = GgufFile.open(resource("flux_conventions.gguf"));
                GgufFile b = GgufFile.open(resource("prefixed.gguf"))) {
            TensorInfo foreign = b.tensor("img_in.weight");
            assertThatThrownBy(() -> a.tensorData(foreign))
                    .isInstanceOf(GgufException.class)
                    .hasMessageContaining("does not belong");
        }
    }

    // ---- manifest helpers ----

    private static List<String[]> manifest(String file, String kind) throws IOException {
        List<String[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(resource(file + ".manifest.tsv"), StandardCharsets.UTF_8)) {
            if (line.startsWith(kind + "\t")) {
                out.add(line.split("\t", -1));
            }
        }
        return out;
    }

    static float[] floats(Path path) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    /** gguf-py's type naming: ARRAY[element types, nested first element's chain]. */
    private static String typeName(GgufValue v) {
        if (v instanceof GgufValue.Array a) {
            List<String> chain = new ArrayList<>();
            GgufValue cur = a;
            while (cur instanceof GgufValue.Array arr) {
                chain.add(arr.elementType().name());
                cur = arr.elements().isEmpty() ? null : arr.elements().get(0);
            }
            return "ARRAY[" + String.join(",", chain) + "]";
        }
        return v.type().name();
    }

    /** gguf-py's contents() flattens nested arrays; compare in the same form. */
    private static Object flatten(GgufValue v) {
        if (v instanceof GgufValue.Array a) {
            List<Object> out = new ArrayList<>();
            for (GgufValue e : a.elements()) {
                Object f = flatten(e);
                if (f instanceof List<?> l) {
                    out.addAll(l);
                } else {
                    out.add(f);
                }
            }
            return out;
        }
        if (v instanceof GgufValue.Float32 f) {
            return (double) f.value(); // gguf-py prints the float32 widened to double
        }
        if (v instanceof GgufValue.UInt64 u) {
            return new BigInteger(u.unsignedString());
        }
        return v.toJava();
    }
}
