package io.github.flux4j.core.weights.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    /** A file from a header JSON and a data section. */
    private Path file(String json, byte[] data) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path p = dir.resolve("t" + System.nanoTime() + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    @Test
    void readsTensorsMetadataAndData() throws IOException {
        byte[] a = floats(1f, 2f, 3f, 4f, 5f, 6f);
        byte[] h = {0x00, 0x3C, 0x00, (byte) 0xC0}; // F16 1.0, -2.0
        byte[] bf = {(byte) 0x80, 0x3F, 0x40, 0x40}; // BF16 1.0, 3.0
        String json = "{\"__metadata__\":{\"format\":\"pt\",\"n\":\"1\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[28,32]},"
                + "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[32,36]}}";
        Path p = file(json, concat(a, h, bf, floats(7f)));
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertThat(st.metadata()).containsEntry("format", "pt").containsEntry("n", "1");
            assertThat(st.tensors()).extracting(WeightInfo::name).containsExactly("a", "h", "b", "s");
            WeightInfo e = st.tensor("a");
            assertThat(st.dtype(e)).isEqualTo(SafetensorsDtype.F32);
            assertThat(e.shape()).containsExactly(2, 3);
            assertThat(e.byteSize()).isEqualTo(24);
            assertThat(st.offset(e)).isEqualTo(st.dataOffset());
            ByteBuffer data = st.data(e);
            assertThat(data.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(data.remaining()).isEqualTo(24);
            assertThat(data.getFloat(20)).isEqualTo(6f);
            assertThat(st.data(st.tensor("h")).getShort(2)).isEqualTo((short) 0xC000);
            assertThat(st.data(st.tensor("b")).getShort(2)).isEqualTo((short) 0x4040);
            assertThat(st.tensor("s").shape()).isEmpty();
            assertThat(st.tensor("s").elementCount()).isEqualTo(1);
            assertThat(st.data(st.tensor("s")).getFloat(0)).isEqualTo(7f);
            // a part of a tensor
            assertThat(st.data(e, 8, 8).getFloat(0)).isEqualTo(3f);
            assertThat(st.find("nope")).isEmpty();
            assertThatThrownBy(() -> st.tensor("nope"))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("'nope'");
            assertThat(SafetensorsDtype.BF16.ggmlType()).hasValue(io.github.flux4j.gguf.GgmlType.BF16);
            assertThat(SafetensorsDtype.F8_E4M3.ggmlType()).isEmpty();
        }
    }

    @Test
    void otherDtypesOpenAndToleratesHoles() throws IOException {
        String json = "{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[8,12]},"
                + "\"y\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
        try (SafetensorsFile st = SafetensorsFile.open(file(json, new byte[16]))) {
            assertThat(st.dtype(st.tensor("x"))).isEqualTo(SafetensorsDtype.F8_E4M3);
            assertThat(st.tensor("y").byteSize()).isEqualTo(8);
        }
    }

    private void rejects(String json, byte[] data, String... fragments) throws IOException {
        Path p = file(json, data);
        assertThatThrownBy(() -> SafetensorsFile.open(p).close())
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(p.toString())
                .hasMessageContainingAll(fragments);
    }

    @Test
    void rejectsBadHeaders() throws IOException {
        rejects("[1,2]", new byte[0], "not a JSON object");
        rejects("{\"a\":", new byte[0], "not valid JSON");
        rejects(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                new byte[8],
                "not valid JSON",
                "Duplicate");
        rejects(
                "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                new byte[4],
                "'a'",
                "unknown dtype 'Q4'");
        rejects("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4], "'a'", "dtype");
        rejects(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
                new byte[4],
                "'a'",
                "invalid dimension");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", new byte[4], "'a'", "data_offsets");
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", new byte[4], "'a'", "invalid");
        rejects(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                new byte[4],
                "'a'",
                "4 bytes",
                "needs 8");
        rejects(
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
                new byte[8],
                "'a'",
                "'b'",
                "overlap");
        rejects("{\"__metadata__\":[1]}", new byte[0], "__metadata__");
    }

    @Test
    void rejectsTruncatedFiles() throws IOException {
        // data section shorter than the header says: the tensor's range runs past the end
        rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[10], "'a'", "truncated");

        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> SafetensorsFile.open(tiny))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("too short");

        // header length larger than the file
        Path cut = dir.resolve("cut.safetensors");
        ByteBuffer b = ByteBuffer.allocate(20)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(100)
                .put(new byte[12]);
        Files.write(cut, b.array());
        assertThatThrownBy(() -> SafetensorsFile.open(cut))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("header length 100")
                .hasMessageContaining("truncated");

        // absurd header length (e.g. a GGUF or other binary file)
        Path other = dir.resolve("other.safetensors");
        Files.write(other, "GGUF\u0003\0\0\0\0\0\0\0\0\0\0\0".getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> SafetensorsFile.open(other))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("not a safetensors file");
    }

    @Test
    void readsTensorsLargerThanTwoGigabytesInParts() throws IOException {
        long n = (1L << 31) + 64; // U8 elements = bytes
        String json = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + n + "],\"data_offsets\":[0," + n + "]}}";
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        Path p = dir.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            ByteBuffer head =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
            raf.write(head.array());
            raf.write(h);
            raf.setLength(8 + h.length + n); // sparse: no disk used
            raf.seek(8 + h.length + n - 1);
            raf.write(42);
        }
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            WeightInfo e = st.tensor("big");
            assertThat(e.byteSize()).isEqualTo(n);
            assertThatThrownBy(() -> st.data(e))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("in parts");
            ByteBuffer tail = st.data(e, n - 16, 16);
            assertThat(tail.get(15)).isEqualTo((byte) 42);
            assertThat(tail.get(0)).isEqualTo((byte) 0);
        }
    }

    @Test
    void closedFileRefusesReads() throws IOException {
        Path p = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floats(1f));
        SafetensorsFile st = SafetensorsFile.open(p);
        WeightInfo e = st.tensor("a");
        st.close();
        assertThatThrownBy(() -> st.data(e)).isInstanceOf(WeightException.class).hasMessageContaining("closed");
    }
}
