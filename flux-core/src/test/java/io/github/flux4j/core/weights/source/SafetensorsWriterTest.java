package io.github.flux4j.core.weights.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.gguf.quant.Float16;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    @Test
    void writesWhatSafetensorsFileReadsBack() throws IOException {
        float[] a = {1f, -2f, 3.5f, 0.1f, 1e-8f, 65504f};
        Path p = dir.resolve("t.safetensors");
        SafetensorsWriter.create()
                .metadata("format", "pt")
                .metadata("note", "ünïcode \"quoted\"")
                .addFloats("a.weight", new long[] {2, 3}, a, SafetensorsDtype.F32)
                .addFloats("b", new long[] {6}, a, SafetensorsDtype.BF16)
                .addFloats("c", new long[] {3, 2}, a, SafetensorsDtype.F16)
                .add(
                        "ids",
                        SafetensorsDtype.I64,
                        new long[] {2},
                        ByteBuffer.allocate(16)
                                .order(ByteOrder.LITTLE_ENDIAN)
                                .putLong(7)
                                .putLong(-1)
                                .array())
                .add(
                        "scalar",
                        SafetensorsDtype.F32,
                        new long[0],
                        ByteBuffer.allocate(4)
                                .order(ByteOrder.LITTLE_ENDIAN)
                                .putFloat(9f)
                                .array())
                .add("empty", SafetensorsDtype.F32, new long[] {0, 4}, new byte[0])
                .write(p);
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            assertThat(st.metadata())
                    .containsExactly(Map.entry("format", "pt"), Map.entry("note", "ünïcode \"quoted\""));
            assertThat(st.tensors())
                    .extracting(WeightInfo::name)
                    .containsExactly("a.weight", "b", "c", "ids", "scalar", "empty");
            assertThat(st.dataOffset() % 8).isZero();
            WeightInfo ea = st.tensor("a.weight");
            assertThat(st.dtype(ea)).isEqualTo(SafetensorsDtype.F32);
            assertThat(ea.shape()).containsExactly(2, 3);
            assertThat(st.offset(ea)).isEqualTo(st.dataOffset());
            ByteBuffer da = st.data(ea);
            for (int i = 0; i < a.length; i++) {
                assertThat(da.getFloat(4 * i)).isEqualTo(a[i]);
            }
            ByteBuffer db = st.data(st.tensor("b"));
            ByteBuffer dc = st.data(st.tensor("c"));
            for (int i = 0; i < a.length; i++) {
                assertThat(db.getShort(2 * i)).isEqualTo(Float16.floatToBf16(a[i]));
                assertThat(dc.getShort(2 * i)).isEqualTo(Float16.fromFloat(a[i]));
            }
            assertThat(st.tensor("c").shape()).containsExactly(3, 2);
            assertThat(st.data(st.tensor("ids")).getLong(8)).isEqualTo(-1);
            assertThat(st.tensor("scalar").shape()).isEmpty();
            assertThat(st.data(st.tensor("scalar")).getFloat(0)).isEqualTo(9f);
            assertThat(st.tensor("empty").byteSize()).isZero();
            // data back to back, nothing after the last tensor
            assertThat(st.fileSize()).isEqualTo(st.dataOffset() + 24 + 12 + 12 + 16 + 4);
        }
        assertThat(dir).isDirectoryNotContaining("glob:**.tmp");
    }

    @Test
    void headerIsCompactJsonPaddedWithSpaces() {
        byte[] file = SafetensorsWriter.create()
                .addFloats("x", new long[] {1}, new float[] {1f}, SafetensorsDtype.F32)
                .toBytes();
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(n % 8).isZero();
        assertThat(header.stripTrailing())
                .isEqualTo("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
        assertThat(header.substring(header.stripTrailing().length())).matches(" *");
    }

    @Test
    void sameBytesAsTheReferenceWriterOfTinyFlux() throws IOException, NoSuchAlgorithmException {
        // tiny_flux.py writes tiny-flux-dev-F32.safetensors with json.dumps(separators=(",", ":"));
        // its sha256 is in the manifest (checked against Python there).
        SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt");
        Map<String, long[]> shapes = TinyFluxFiles.shapes(true);
        TinyFluxFiles.bflWeights()
                .forEach((name, values) -> w.addFloats(name, shapes.get(name), values, SafetensorsDtype.F32));
        String sha =
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(w.toBytes()));
        String manifest = Files.readString(Path.of("src/test/resources/reference/flux/manifest.tsv"));
        assertThat(manifest).contains("aux\t" + TinyFluxFiles.BFL_SAFETENSORS + "\t29043240\t" + sha);
    }

    @Test
    void rejectsBadTensors() {
        SafetensorsWriter w = SafetensorsWriter.create().add("a", SafetensorsDtype.U8, new long[] {2}, new byte[2]);
        assertThatThrownBy(() -> w.add("a", SafetensorsDtype.U8, new long[] {1}, new byte[1]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'a' added twice");
        assertThatThrownBy(() -> w.add("b", SafetensorsDtype.F32, new long[] {2}, new byte[4]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'b': 4 bytes for F32 [2], which needs 8");
        assertThatThrownBy(() -> w.add("c", SafetensorsDtype.F32, new long[] {-1}, new byte[0]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative dimension");
        assertThatThrownBy(() -> w.add("__metadata__", SafetensorsDtype.U8, new long[] {1}, new byte[1]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("invalid tensor name");
        assertThatThrownBy(() -> w.addFloats("d", new long[] {1}, new float[1], SafetensorsDtype.I32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot be stored as I32");
        assertThat(w.tensorNames()).containsExactly("a");
    }

    @Test
    void failedWriteLeavesTargetAlone() throws IOException {
        Path target = dir.resolve("keep.safetensors");
        Files.writeString(target, "old");
        Path missingDir = dir.resolve("nope/x.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.create().write(missingDir))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(IOException.class);
        assertThat(Files.readString(target)).isEqualTo("old");
        SafetensorsWriter.create().write(target);
        try (SafetensorsFile st = SafetensorsFile.open(target)) {
            assertThat(st.tensors()).isEmpty();
        }
    }
}
