package io.github.flux4j.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of malformed file the reader must refuse, each with a {@link GgufFormatException}
 * that names the file, the byte offset and the reason.
 */
class GgufBadInputTest {
    @TempDir
    Path dir;

    private static final long[] ONE_ROW = {32};

    /** A valid one-tensor file: F32 [32] at data offset 0. */
    private static GgufBytes valid(long[] dims, int typeId, long offset) {
        return new GgufBytes()
                .header(3, 1, 1)
                .kvU32("general.alignment", 32)
                .tensor("t", dims, typeId, offset)
                .pad(32);
    }

    @Test
    void minimalValidFileOpens() throws IOException {
        byte[] b = valid(ONE_ROW, 0, 0).zeros(128).bytes();
        try (GgufFile f = GgufFile.open(write("ok.gguf", b))) {
            assertThat(f.tensor("t").byteSize()).isEqualTo(128);
        }
    }

    @Test
    void versionTwoIsRead() throws IOException {
        // v2 has v3's layout (64-bit counts); v3 only added big-endian files
        byte[] b = new GgufBytes()
                .header(2, 1, 1)
                .kvU32("general.alignment", 32)
                .tensor("t", ONE_ROW, 0, 0)
                .pad(32)
                .zeros(128)
                .bytes();
        try (GgufFile f = GgufFile.open(write("v2.gguf", b))) {
            assertThat(f.version()).isEqualTo(2);
            assertThat(f.tensor("t").shape()).containsExactly(32);
        }
    }

    /**
     * A sparse file of a little over 3 GiB whose second tensor lies past 2^31 and is itself larger
     * than one buffer can address: offsets are 64-bit, and the big tensor is read in parts.
     */
    @Test
    void tensorsBeyondTwoGibibytes() throws IOException {
        long big = (1L << 31) + 64; // F32 elements * 4 bytes > Integer.MAX_VALUE
        long bigOffset = 1L << 30;
        byte[] header = new GgufBytes()
                .header(3, 2, 0)
                .tensor("small", ONE_ROW, 0, 0)
                .tensor("big", new long[] {big / 4}, 0, bigOffset)
                .pad(32)
                .bytes();
        Path p = dir.resolve("sparse.gguf");
        long dataOffset = header.length;
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.write(header);
            f.setLength(dataOffset + bigOffset + big); // sparse: no disk blocks for the zeros
            f.seek(dataOffset + bigOffset + big - 4);
            f.write(new byte[] {1, 2, 3, 4});
        }
        try (GgufFile gguf = GgufFile.open(p)) {
            TensorInfo t = gguf.tensor("big");
            assertThat(t.offset()).isEqualTo(dataOffset + bigOffset);
            assertThat(t.byteSize()).isEqualTo(big);
            assertThatThrownBy(() -> gguf.tensorData(t))
                    .isInstanceOf(GgufException.class)
                    .hasMessageContaining("big")
                    .hasMessageContaining("in parts");
            java.nio.ByteBuffer tail = gguf.tensorData(t, big - 8, 8);
            assertThat(tail.getInt(4)).isEqualTo(0x04030201);
            assertThat(gguf.tensorData(gguf.tensor("small")).remaining()).isEqualTo(128);
        }
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = valid(ONE_ROW, 0, 0).zeros(128).bytes();
        b[0] = 'X';
        expect("magic.gguf", b, 0, "bad magic");
    }

    @Test
    void versionOneIsRefused() throws IOException {
        expect("v1.gguf", new GgufBytes().header(1, 0, 0).bytes(), 4, "version 1 is not supported");
    }

    @Test
    void byteSwappedHeaderIsReportedAsBigEndian() throws IOException {
        expect(
                "be.gguf",
                new GgufBytes()
                        .header(Integer.reverseBytes(3) & 0xFFFFFFFFL, 0, 0)
                        .bytes(),
                4,
                "big-endian");
    }

    @Test
    void unknownVersion() throws IOException {
        expect("v9.gguf", new GgufBytes().header(9, 0, 0).bytes(), 4, "unsupported GGUF version 9");
    }

    @Test
    void absurdTensorCount() throws IOException {
        expect(
                "tensors.gguf",
                new GgufBytes().header(3, 1L << 60, 0).zeros(64).bytes(),
                8,
                "1152921504606846976 tensors");
    }

    @Test
    void absurdMetadataCount() throws IOException {
        expect("kvs.gguf", new GgufBytes().header(3, 0, 1L << 60).zeros(64).bytes(), 16, "metadata entries");
    }

    @Test
    void negativeCountAsUnsigned() throws IOException {
        expect("neg.gguf", new GgufBytes().header(3, -1L, 0).zeros(64).bytes(), 8, "18446744073709551615 tensors");
    }

    @Test
    void stringLengthPastEndOfFile() throws IOException {
        byte[] b = new GgufBytes().header(3, 0, 1).u64(1L << 40).zeros(16).bytes();
        expect("str.gguf", b, 24, "runs past the end of the file");
    }

    @Test
    void arrayCountPastEndOfFile() throws IOException {
        byte[] b = new GgufBytes()
                .header(3, 0, 1)
                .str("k")
                .u32(GgufValueType.ARRAY.id())
                .u32(GgufValueType.UINT32.id())
                .u64(1L << 50)
                .zeros(16)
                .bytes();
        expect("arr.gguf", b, 24 + 9 + 4 + 4, "cannot fit");
    }

    @Test
    void deeplyNestedArrays() throws IOException {
        GgufBytes g = new GgufBytes().header(3, 0, 1).str("k");
        g.u32(GgufValueType.ARRAY.id());
        for (int i = 0; i < 20; i++) {
            g.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        g.zeros(64);
        expectReason("nest.gguf", g.bytes(), "nested more than");
    }

    @Test
    void unknownValueType() throws IOException {
        byte[] b = new GgufBytes().header(3, 0, 1).str("k").u32(13).zeros(8).bytes();
        expect("vt.gguf", b, 24 + 9, "unknown value type id 13");
    }

    @Test
    void invalidBool() throws IOException {
        byte[] b = new GgufBytes()
                .header(3, 0, 1)
                .str("k")
                .u32(GgufValueType.BOOL.id())
                .u8(7)
                .bytes();
        expect("bool.gguf", b, 24 + 9 + 4, "BOOL byte is 7");
    }

    @Test
    void duplicateMetadataKey() throws IOException {
        byte[] b = new GgufBytes().header(3, 0, 2).kvU32("k", 1).kvU32("k", 2).bytes();
        expectReason("dupkey.gguf", b, "duplicate metadata key 'k'");
    }

    @Test
    void badAlignment() throws IOException {
        byte[] b =
                new GgufBytes().header(3, 0, 1).kvU32("general.alignment", 24).bytes();
        expectReason("align.gguf", b, "not a power of two");
    }

    @Test
    void unknownTensorType() throws IOException {
        expectReason("type.gguf", valid(ONE_ROW, 4, 0).zeros(128).bytes(), "unknown GGML type id 4");
        expectReason("type99.gguf", valid(ONE_ROW, 99, 0).zeros(128).bytes(), "unknown GGML type id 99");
    }

    @Test
    void zeroAndNegativeDims() throws IOException {
        expectReason("zero.gguf", valid(new long[] {32, 0}, 0, 0).zeros(128).bytes(), "dimension 1 = 0");
        expectReason("negdim.gguf", valid(new long[] {-32}, 0, 0).zeros(128).bytes(), "not positive");
    }

    @Test
    void tooManyDims() throws IOException {
        expectReason(
                "dims.gguf", valid(new long[] {1, 1, 1, 1, 1}, 0, 0).zeros(128).bytes(), "5 dimensions");
    }

    @Test
    void shapeOverflow() throws IOException {
        expectReason(
                "overflow.gguf",
                valid(new long[] {1L << 32, 1L << 32, 1L << 32}, 0, 0)
                        .zeros(128)
                        .bytes(),
                "overflows");
        // fits in elements but not in bytes: 2^62 F32 values
        expectReason(
                "overflow2.gguf",
                valid(new long[] {1L << 31, 1L << 31}, 0, 0).zeros(128).bytes(),
                "overflows");
    }

    @Test
    void rowNotMultipleOfBlockSize() throws IOException {
        expectReason(
                "block.gguf",
                valid(new long[] {33}, GgmlType.Q8_0.id(), 0).zeros(128).bytes(),
                "not a multiple of the Q8_0 block size 32");
    }

    @Test
    void unalignedOffset() throws IOException {
        expectReason("unaligned.gguf", valid(ONE_ROW, 0, 4).zeros(256).bytes(), "not a multiple of the alignment 32");
    }

    @Test
    void offsetPastEnd() throws IOException {
        expectReason("past.gguf", valid(ONE_ROW, 0, 1L << 40).zeros(256).bytes(), "run past the end of the file");
    }

    @Test
    void tensorOverrunsFile() throws IOException {
        expectReason("overrun.gguf", valid(ONE_ROW, 0, 0).zeros(100).bytes(), "run past the end of the file");
    }

    @Test
    void duplicateTensorNames() throws IOException {
        byte[] b = new GgufBytes()
                .header(3, 2, 0)
                .tensor("t", ONE_ROW, 0, 0)
                .tensor("t", ONE_ROW, 0, 128)
                .pad(32)
                .zeros(256)
                .bytes();
        expectReason("dup.gguf", b, "duplicate tensor name 't'");
    }

    @Test
    void duplicateNamesOncePrefixIsRemoved() throws IOException {
        byte[] b = new GgufBytes()
                .header(3, 2, 0)
                .tensor("t", ONE_ROW, 0, 0)
                .tensor("model.diffusion_model.t", ONE_ROW, 0, 128)
                .pad(32)
                .zeros(256)
                .bytes();
        expectReason("dup2.gguf", b, "same name once the 'model.diffusion_model.' prefix is removed");
    }

    @Test
    void overlappingTensors() throws IOException {
        byte[] b = new GgufBytes()
                .header(3, 2, 0)
                .tensor("a", ONE_ROW, 0, 0)
                .tensor("b", ONE_ROW, 0, 64)
                .pad(32)
                .zeros(256)
                .bytes();
        expectReason("overlap.gguf", b, "overlaps");
    }

    @Test
    void badOrigShapeOverride() throws IOException {
        GgufBytes g = new GgufBytes()
                .header(3, 1, 1)
                .str(GgufFile.ORIG_SHAPE_PREFIX + "t")
                .u32(GgufValueType.ARRAY.id())
                .u32(GgufValueType.INT32.id())
                .u64(2)
                .u32(3)
                .u32(5)
                .tensor("t", ONE_ROW, 0, 0)
                .pad(32)
                .zeros(128);
        expectReason("orig.gguf", g.bytes(), "15 elements");
    }

    @Test
    void invalidUtf8TensorName() throws IOException {
        byte[] b = valid(ONE_ROW, 0, 0).zeros(128).bytes();
        int at = indexOf(b, "t".getBytes()[0], 24 + 8 + "general.alignment".length() + 8 + 8);
        b[at] = (byte) 0xFF;
        expectReason("utf8.gguf", b, "not valid UTF-8");
    }

    /**
     * The valid gguf-py file cut at every length up to the end of its header, and at points inside
     * its tensor data: every cut must be refused, never crash.
     */
    @Test
    void truncatedAtEveryHeaderByteAndInsideTensors() throws IOException {
        byte[] full = Files.readAllBytes(GgufFileTest.resource("flux_conventions.gguf"));
        long dataOffset;
        long lastEnd;
        try (GgufFile f = GgufFile.open(GgufFileTest.resource("flux_conventions.gguf"))) {
            dataOffset = f.dataOffset();
            lastEnd = f.tensors().stream()
                    .mapToLong(t -> t.offset() + t.byteSize())
                    .max()
                    .orElseThrow();
        }
        assertThat(lastEnd).isEqualTo(full.length);
        Path p = dir.resolve("cut.gguf");
        for (int len = 0; len < full.length; len += len < dataOffset + 64 ? 1 : 997) {
            Files.write(p, Arrays.copyOf(full, len));
            final int cut = len;
            assertThatThrownBy(() -> GgufFile.open(p).close())
                    .as("cut at %d", cut)
                    .isInstanceOf(GgufFormatException.class)
                    .hasMessageContaining(p.toString());
        }
    }

    @Test
    void exceptionCarriesFileOffsetAndReason() throws IOException {
        Path p = write("parts.gguf", new GgufBytes().header(1, 0, 0).bytes());
        assertThatThrownBy(() -> GgufFile.open(p)).isInstanceOfSatisfying(GgufFormatException.class, e -> {
            assertThat(e.file()).isEqualTo(p.toString());
            assertThat(e.offset()).isEqualTo(4);
            assertThat(e.reason()).contains("version 1");
            assertThat(e.getMessage()).isEqualTo(p + ": invalid GGUF at byte 4: " + e.reason());
        });
    }

    @Test
    void emptyFile() throws IOException {
        expect("empty.gguf", new byte[0], 0, "truncated");
    }

    // ---- helpers ----

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private void expect(String name, byte[] bytes, long offset, String reason) throws IOException {
        Path p = write(name, bytes);
        assertThatThrownBy(() -> GgufFile.open(p)).isInstanceOfSatisfying(GgufFormatException.class, e -> {
            assertThat(e.getMessage()).contains(p.toString()).contains(reason);
            assertThat(e.offset()).as("offset in: " + e.getMessage()).isEqualTo(offset);
        });
    }

    private AbstractThrowableAssert<?, ? extends Throwable> expectReason(String name, byte[] bytes, String reason)
            throws IOException {
        Path p = write(name, bytes);
        return assertThatThrownBy(() -> GgufFile.open(p))
                .isInstanceOf(GgufFormatException.class)
                .hasMessageContaining(p.toString())
                .hasMessageContaining(reason)
                .hasMessageContaining("at byte");
    }

    private static int indexOf(byte[] b, byte v, int from) {
        for (int i = from; i < b.length; i++) {
            if (b[i] == v) {
                return i;
            }
        }
        throw new IllegalStateException();
    }
}
