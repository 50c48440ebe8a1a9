package io.github.flux4j.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.gguf.quant.Quantizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufWriterTest {

    @TempDir
    Path dir;

    @Test
    void roundTripsEveryValueTypeNestedArraysAndTensorTypes() throws IOException {
        for (GgufWriter w : List.of(WriterReference.main(), WriterReference.edge())) {
            Path file = dir.resolve("rt.gguf");
            w.write(file);
            try (GgufFile g = GgufFile.open(file)) {
                assertThat(g.version()).isEqualTo(3);
                assertThat(g.alignment()).isEqualTo(w.alignment());
                assertThat(g.metadata().asMap()).containsExactlyEntriesOf(w.metadata());
                assertThat(g.tensors()).extracting(TensorInfo::storedName).containsExactlyElementsOf(w.tensorNames());
                for (TensorInfo t : g.tensors()) {
                    WriterReference.Tensor expected = WriterReference.tensor(t.storedName());
                    assertThat(t.type()).as(t.storedName()).isEqualTo(expected.type());
                    assertThat(t.shape()).as(t.storedName()).containsExactly(expected.shape());
                    assertThat(t.byteSize()).isEqualTo(expected.bytes().length);
                    assertThat(t.offset() % g.alignment()).isZero();
                    byte[] data = new byte[(int) t.byteSize()];
                    g.tensorData(t).get(data);
                    assertThat(data).as(t.storedName()).isEqualTo(expected.bytes());
                }
            }
        }
        // The reference content really covers every value type, scalar and as array elements.
        Map<String, GgufValue> all = WriterReference.main().metadata();
        for (GgufValueType type : GgufValueType.values()) {
            assertThat(all.values()).as("scalar " + type).anyMatch(v -> v.type() == type);
            assertThat(all.values())
                    .as("array of " + type)
                    .anyMatch(v -> v instanceof GgufValue.Array a && a.elementType() == type);
        }
    }

    @Test
    void writesTheExactBytesOfTheSpecLayout() throws IOException {
        GgufWriter w = GgufWriter.create()
                .put("k", new GgufValue.UInt16((short) 0xBEEF))
                .put("s", GgufValue.of("é"))
                .put(
                        "a",
                        new GgufValue.Array(
                                GgufValueType.ARRAY,
                                List.of(new GgufValue.Array(
                                        GgufValueType.INT8, List.of(new GgufValue.Int8((byte) -1))))))
                .addTensor(
                        "t",
                        GgmlType.F32,
                        new long[] {2, 3},
                        le(24).putFloat(0, 1f).putFloat(20, -2f))
                .addTensor("u", GgmlType.I8, new long[] {1}, ByteBuffer.wrap(new byte[] {7}));
        Path file = dir.resolve("exact.gguf");
        w.write(file);

        ByteBuffer e = le(4096);
        e.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(2).putLong(3);
        str(e, "k").putInt(2).putShort((short) 0xBEEF);
        str(e, "s").putInt(8).putLong(2).put((byte) 0xC3).put((byte) 0xA9);
        str(e, "a").putInt(9).putInt(9).putLong(1).putInt(1).putLong(1).put((byte) -1);
        str(e, "t").putInt(2).putLong(3).putLong(2).putInt(0).putLong(0); // dims innermost first
        str(e, "u").putInt(1).putLong(1).putInt(24).putLong(32); // 24 bytes padded to 32
        int dataOffset = align(e.position(), 32);
        e.position(dataOffset);
        e.putFloat(1f).position(dataOffset + 20);
        e.putFloat(-2f).position(dataOffset + 32);
        e.put((byte) 7).position(dataOffset + 64); // the last tensor is padded too
        byte[] expected = new byte[e.position()];
        e.flip().get(expected);

        assertThat(Files.readAllBytes(file)).isEqualTo(expected);
    }

    @Test
    void padsToACustomAlignmentWithZeros() throws IOException {
        GgufWriter w = GgufWriter.create()
                .put("general.architecture", GgufValue.of("x"))
                .put(GgufWriter.ALIGNMENT_KEY, GgufValue.uint32(256))
                .addTensor("a", GgmlType.I8, new long[] {3}, ByteBuffer.wrap(new byte[] {1, 2, 3}))
                .addTensor("b", GgmlType.Q8_0, new long[] {32}, ByteBuffer.wrap(filled(34, (byte) 9)))
                .addTensor("c", GgmlType.F16, new long[] {128}, ByteBuffer.wrap(filled(256, (byte) 5)));
        assertThat(w.alignment()).isEqualTo(256);
        Path file = dir.resolve("aligned.gguf");
        w.write(file);
        byte[] bytes = Files.readAllBytes(file);

        try (GgufFile g = GgufFile.open(file)) {
            long data = g.dataOffset();
            assertThat(data % 256).isZero();
            assertThat(g.tensors()).extracting(TensorInfo::offset).containsExactly(data, data + 256, data + 512);
            // c is exactly 256 bytes: no padding after it, the file ends with its data.
            assertThat(bytes).hasSize((int) data + 768);
            assertZeros(bytes, data + 3, data + 256);
            assertZeros(bytes, data + 256 + 34, data + 512);
            // Between the end of the tensor infos and the data section: zeros only. Header 24,
            // two entries 8+20+4+8+1 and 8+17+4+4, three infos of 8+1+4+8+4+8 bytes.
            int infosEnd = 24 + 41 + 33 + 3 * 33;
            assertThat(bytes[infosEnd - 7]).isEqualTo((byte) 2); // c's offset 512, little-endian
            assertZeros(bytes, infosEnd, data);
        }
    }

    @Test
    void defaultAlignmentIsNotWrittenAsAKey() throws IOException {
        Path file = dir.resolve("noalign.gguf");
        GgufWriter.create().put("general.architecture", GgufValue.of("x")).write(file);
        try (GgufFile g = GgufFile.open(file)) {
            assertThat(g.alignment()).isEqualTo(32);
            assertThat(g.metadata().keys()).containsExactly("general.architecture");
            assertThat(g.tensors()).isEmpty();
            assertThat(g.dataOffset() % 32).isZero();
            assertThat(Files.size(file)).isEqualTo(g.dataOffset());
        }
    }

    @Test
    void putReplacesAValueInItsPlace() {
        GgufWriter w = GgufWriter.create()
                .put("a", GgufValue.of(1))
                .put("b", GgufValue.of(2))
                .put("a", GgufValue.of("x"));
        assertThat(w.metadata().keySet()).containsExactly("a", "b");
        assertThat(w.metadata().get("a")).isEqualTo(GgufValue.of("x"));
        w.remove("a");
        assertThat(w.metadata().keySet()).containsExactly("b");
    }

    @Test
    void rejectsInvalidMetadata() {
        GgufWriter w = GgufWriter.create();
        assertThatThrownBy(() -> w.put("", GgufValue.of(1))).hasMessageContaining("empty");
        assertThatThrownBy(() -> w.put("k".repeat(65536), GgufValue.of(1))).hasMessageContaining("65536 UTF-8 bytes");
        assertThatThrownBy(() -> w.put("s", GgufValue.of("a\uD800b")))
                .hasMessageContaining("'s'")
                .hasMessageContaining("surrogate");
        assertThatThrownBy(() -> w.put(GgufWriter.ALIGNMENT_KEY, GgufValue.of(64)))
                .hasMessageContaining("general.alignment")
                .hasMessageContaining("UINT32");
        assertThatThrownBy(() -> w.put(GgufWriter.ALIGNMENT_KEY, GgufValue.uint32(48)))
                .hasMessageContaining("power of two");
        assertThatThrownBy(() -> w.put(GgufWriter.ALIGNMENT_KEY, GgufValue.uint32(0)))
                .hasMessageContaining("power of two");
        GgufValue deep = GgufValue.int32s(1);
        for (int i = 0; i < 8; i++) {
            deep = new GgufValue.Array(GgufValueType.ARRAY, List.of(deep));
        }
        GgufValue tooDeep = deep;
        assertThatThrownBy(() -> w.put("deep", tooDeep))
                .hasMessageContaining("'deep'")
                .hasMessageContaining("nested");
        assertThat(w.metadata()).isEmpty();
    }

    @Test
    void writesArraysNestedEightLevelsDeep() throws IOException {
        GgufValue deep = GgufValue.int32s(1, 2);
        for (int i = 1; i < GgufWriter.MAX_ARRAY_DEPTH; i++) {
            deep = new GgufValue.Array(GgufValueType.ARRAY, List.of(deep));
        }
        Path file = dir.resolve("deep.gguf");
        GgufWriter.create().put("deep", deep).write(file);
        try (GgufFile g = GgufFile.open(file)) {
            assertThat(g.metadata().get("deep")).isEqualTo(deep);
        }
    }

    @Test
    void rejectsInvalidTensors() {
        GgufWriter w = GgufWriter.create();
        GgufWriter.TensorSource none = out -> {};
        w.addTensor("ok", GgmlType.F32, new long[] {1}, none);
        w.addTensor("model.diffusion_model.img_in.weight", GgmlType.F32, new long[] {1}, none);

        assertThatThrownBy(() -> w.addTensor("", GgmlType.F32, new long[] {1}, none))
                .hasMessageContaining("empty");
        assertThatThrownBy(() -> w.addTensor("x".repeat(128), GgmlType.F32, new long[] {1}, none))
                .hasMessageContaining("128 UTF-8 bytes")
                .hasMessageContaining("127");
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.F32, new long[] {}, none))
                .hasMessageContaining("'t'")
                .hasMessageContaining("0 dimensions");
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.F32, new long[] {1, 1, 1, 1, 1}, none))
                .hasMessageContaining("5 dimensions");
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.F32, new long[] {2, 0}, none))
                .hasMessageContaining("not positive");
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.Q4_K, new long[] {256, 32}, none))
                .hasMessageContaining("innermost dimension 32")
                .hasMessageContaining("block size 256");
        assertThatThrownBy(() -> w.addTensor("t", GgmlType.F32, new long[] {1L << 40, 1L << 40}, none))
                .hasMessageContaining("too large");
        assertThatThrownBy(() -> w.addTensor("ok", GgmlType.F32, new long[] {1}, none))
                .hasMessageContaining("duplicate tensor name 'ok'");
        assertThatThrownBy(() -> w.addTensor("img_in.weight", GgmlType.F32, new long[] {1}, none))
                .hasMessageContaining("same name once the 'model.diffusion_model.' prefix is removed");
        assertThatThrownBy(() -> w.addTensor("model.diffusion_model.ok", GgmlType.F32, new long[] {1}, none))
                .hasMessageContaining("'ok'");
        assertThatThrownBy(() -> w.addTensor("b", GgmlType.F32, new long[] {2}, ByteBuffer.allocate(7)))
                .hasMessageContaining("tensor 'b'")
                .hasMessageContaining("takes 8 bytes but the buffer holds 7");
        assertThat(w.tensorNames()).containsExactly("ok", "model.diffusion_model.img_in.weight");

        // The limit is the caller's to choose.
        GgufWriter stock = GgufWriter.create().maxTensorNameBytes(GgufWriter.GGML_MAX_TENSOR_NAME_BYTES);
        stock.addTensor("y".repeat(63), GgmlType.F32, new long[] {1}, none);
        assertThatThrownBy(() -> stock.addTensor("y".repeat(64), GgmlType.F32, new long[] {1}, none))
                .hasMessageContaining("limit is 63");
        GgufWriter.create().maxTensorNameBytes(65535).addTensor("z".repeat(65535), GgmlType.F32, new long[] {1}, none);
    }

    @Test
    void aFailingSourceLeavesNoFileAndNoTemporaryFile() throws IOException {
        GgufWriter w = GgufWriter.create()
                .put("general.architecture", GgufValue.of("x"))
                .addTensor("first", GgmlType.I8, new long[] {100_000}, ByteBuffer.allocate(100_000))
                .addTensor("second", GgmlType.F32, new long[] {1024}, out -> {
                    out.write(ByteBuffer.allocate(2048));
                    throw new IOException("disk on fire");
                });
        Path file = dir.resolve("model.gguf");
        assertThatThrownBy(() -> w.write(file))
                .isInstanceOf(FluxIoException.class)
                .hasMessage(file + ": disk on fire")
                .hasCauseInstanceOf(IOException.class)
                .hasRootCauseMessage("disk on fire");
        assertThat(listDir()).isEmpty();

        // An existing file is left as it was.
        Files.write(file, new byte[] {42});
        assertThatThrownBy(() -> w.write(file)).hasRootCauseMessage("disk on fire");
        assertThat(Files.readAllBytes(file)).containsExactly(42);
        assertThat(listDir()).containsExactly(file);
    }

    @Test
    void aSourceWritingTheWrongByteCountFailsNamingTheTensor() throws IOException {
        Path file = dir.resolve("model.gguf");
        GgufWriter tooFew = GgufWriter.create()
                .addTensor("short", GgmlType.Q8_0, new long[] {2, 32}, out -> out.write(ByteBuffer.allocate(67)));
        assertThatThrownBy(() -> tooFew.write(file))
                .isInstanceOf(GgufException.class)
                .hasMessage("tensor 'short': its source wrote 67 bytes, but Q8_0 [2, 32] takes 68");
        GgufWriter tooMany = GgufWriter.create().addTensor("long", GgmlType.F16, new long[] {4}, out -> {
            out.write(ByteBuffer.allocate(6));
            out.write(ByteBuffer.allocate(4));
        });
        assertThatThrownBy(() -> tooMany.write(file))
                .isInstanceOf(GgufException.class)
                .hasMessageContaining(
                        "tensor 'long': its source writes more than the 8 bytes F16 [4] takes (6 written, 4 more offered)");
        assertThat(listDir()).isEmpty();
    }

    @Test
    void replacesAnExistingFileAndLeavesNoTemporaryFile() throws IOException {
        Path file = dir.resolve("model.gguf");
        Files.write(file, new byte[] {1, 2, 3});
        GgufWriter w = GgufWriter.create()
                .put("general.architecture", GgufValue.of("x"))
                .addTensor("t", GgmlType.I32, new long[] {2}, le(8).putInt(0, 5).putInt(4, 6));
        w.write(file);
        w.write(file); // ByteBuffer sources can be replayed
        assertThat(listDir()).containsExactly(file);
        Path longName = dir.resolve("m".repeat(250) + ".gguf"); // the temporary name must fit too
        w.write(longName);
        assertThat(listDir()).containsExactlyInAnyOrder(file, longName);
        try (GgufFile g = GgufFile.open(file)) {
            assertThat(g.tensorData(g.tensor("t")).getInt(4)).isEqualTo(6);
        }
    }

    @Test
    void streamsLargeTensorsThroughSmallWrites() throws IOException {
        // 3 MiB in 1000-byte pieces crosses the writer's buffer size many times, unaligned.
        int n = 3 << 20;
        GgufWriter w = GgufWriter.create().addTensor("big", GgmlType.I8, new long[] {n}, out -> {
            byte[] piece = new byte[1000];
            for (int done = 0; done < n; done += piece.length) {
                int len = Math.min(piece.length, n - done);
                for (int i = 0; i < len; i++) {
                    piece[i] = (byte) ((done + i) * 31);
                }
                out.write(ByteBuffer.wrap(piece, 0, len));
            }
        });
        Path file = dir.resolve("big.gguf");
        w.write(file);
        try (GgufFile g = GgufFile.open(file)) {
            ByteBuffer data = g.tensorData(g.tensor("big"));
            for (int i = 0; i < n; i += 4099) {
                assertThat(data.get(i)).isEqualTo((byte) (i * 31));
            }
            assertThat(data.get(n - 1)).isEqualTo((byte) ((n - 1) * 31));
        }
    }

    @Test
    void quantizesFloatTensorsWithTheQuantizer() throws IOException {
        // Q8_0 over 3 MiB of output crosses the conversion's 1 MiB chunks, the last one partial.
        int rows = 3 * 1024 * 1024 / 34 + 1;
        float[] big = new float[rows * 32];
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) Math.sin(i * 0.01) * (1 + i % 7);
        }
        float[] small = {1f, -2.5f, 3.25f, 0f, 65504f, 1e-8f, -0f, 7f};
        float[] kquant = new float[256];
        for (int i = 0; i < kquant.length; i++) {
            kquant[i] = (float) Math.cos(i * 0.3) * i;
        }
        GgufWriter w = GgufWriter.create()
                .addTensor("q8", big, new long[] {rows, 32}, GgmlType.Q8_0)
                .addTensor("f16", small, new long[] {2, 4}, GgmlType.F16)
                .addTensor("q4k", kquant, new long[] {1, 256}, GgmlType.Q4_K);
        Path file = dir.resolve("q.gguf");
        w.write(file);
        try (GgufFile g = GgufFile.open(file)) {
            assertThat(bytes(g, "q8")).isEqualTo(Quantizer.quantize(GgmlType.Q8_0, big));
            assertThat(bytes(g, "f16")).isEqualTo(Quantizer.quantize(GgmlType.F16, small));
            assertThat(bytes(g, "q4k")).isEqualTo(Quantizer.quantize(GgmlType.Q4_K, kquant));
            assertThat(g.tensor("q8").shape()).containsExactly(rows, 32);
        }

        assertThatThrownBy(() -> w.addTensor("n", new float[7], new long[] {2, 4}, GgmlType.F32))
                .hasMessageContaining("tensor 'n'")
                .hasMessageContaining("8 elements but 7 floats");
        assertThatThrownBy(() -> w.addTensor("iq", new float[256], new long[] {256}, GgmlType.IQ2_XXS))
                .isInstanceOf(UnsupportedGgufTypeException.class)
                .hasMessageContaining("tensor 'iq'");
    }

    private static byte[] bytes(GgufFile g, String tensor) {
        ByteBuffer b = g.tensorData(g.tensor(tensor));
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer str(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        return b.putLong(bytes.length).put(bytes);
    }

    private static int align(int n, int a) {
        return (n + a - 1) / a * a;
    }

    private static byte[] filled(int n, byte v) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, v);
        return b;
    }

    private static void assertZeros(byte[] bytes, long from, long to) {
        for (long i = from; i < to; i++) {
            assertThat(bytes[(int) i]).as("byte %d", i).isZero();
        }
    }
}
