package io.github.flux4j.gguf.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Checks {@link Dequantizer} bit for bit against gguf-py's {@code gguf.quants.dequantize}, on
 * random blocks made by {@code tools/reference/gguf_dequant_refs.py}, through every entry point
 * and buffer kind, plus argument validation.
 */
class DequantizerTest {
    private static final Set<GgmlType> SUPPORTED = EnumSet.of(
            GgmlType.F32,
            GgmlType.F16,
            GgmlType.BF16,
            GgmlType.Q4_0,
            GgmlType.Q4_1,
            GgmlType.Q5_0,
            GgmlType.Q5_1,
            GgmlType.Q8_0,
            GgmlType.Q2_K,
            GgmlType.Q3_K,
            GgmlType.Q4_K,
            GgmlType.Q5_K,
            GgmlType.Q6_K,
            GgmlType.IQ4_NL,
            GgmlType.IQ4_XS);

    /** One type's reference case: raw blocks and gguf-py's float32 output. */
    private record Reference(GgmlType type, byte[] blocks, float[] expected) {
        int elements() {
            return expected.length;
        }
    }

    private static Reference reference(GgmlType type) {
        byte[] blocks = resource(type + ".blocks");
        byte[] f32 = resource(type + ".f32");
        float[] expected = new float[f32.length / 4];
        ByteBuffer.wrap(f32).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(expected);
        assertThat((long) blocks.length).as("%s reference sizes", type).isEqualTo(type.byteSize(expected.length));
        return new Reference(type, blocks, expected);
    }

    private static byte[] resource(String name) {
        String path = "/reference/dequant/" + name;
        try (InputStream in = DequantizerTest.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + path);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Fails at the first value whose bits differ, naming the element and its block. */
    private static void assertBitsEqual(
            GgmlType type, String path, float[] actual, int actualOffset, float[] expected) {
        for (int i = 0; i < expected.length; i++) {
            int a = Float.floatToRawIntBits(actual[actualOffset + i]);
            int e = Float.floatToRawIntBits(expected[i]);
            if (a != e) {
                fail(
                        "%s via %s: element %d (block %d) is %s (0x%08x), gguf-py gives %s (0x%08x)",
                        type, path, i, i / type.blockSize(), actual[actualOffset + i], a, expected[i], e);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(
            names = {
                "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
                "IQ4_NL", "IQ4_XS"
            })
    void matchesGgufPyFromHeapBuffer(GgmlType type) {
        Reference ref = reference(type);
        float[] out = new float[ref.elements() + 3];
        Arrays.fill(out, Float.NaN);
        Dequantizer.dequantize(type, ByteBuffer.wrap(ref.blocks()), 0, out, 3, ref.elements());
        assertBitsEqual(type, "heap buffer", out, 3, ref.expected());
        assertThat(Float.isNaN(out[0])).as("values before dstOffset untouched").isTrue();
    }

    @ParameterizedTest
    @EnumSource(
            names = {
                "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
                "IQ4_NL", "IQ4_XS"
            })
    void matchesGgufPyFromReadOnlyDirectBufferAcrossChunks(GgmlType type) {
        Reference ref = reference(type);
        // Five copies after a 7-byte header, in a big-endian read-only direct buffer: the offset is
        // unaligned, the order must be ignored, and the data spans several scratch chunks.
        int copies = 5;
        int n = ref.blocks().length;
        ByteBuffer direct = ByteBuffer.allocateDirect(7 + copies * n + 5);
        for (int c = 0; c < copies; c++) {
            direct.put(7 + c * n, ref.blocks());
        }
        ByteBuffer src = direct.asReadOnlyBuffer().order(ByteOrder.BIG_ENDIAN);
        src.position(2);
        float[] out = new float[copies * ref.elements()];
        Dequantizer.dequantize(type, src, 7, out, 0, out.length);
        for (int c = 0; c < copies; c++) {
            assertBitsEqual(type, "direct buffer, copy " + c, out, c * ref.elements(), ref.expected());
        }
        assertThat(src.position()).as("position unchanged").isEqualTo(2);
        assertThat(src.order()).isEqualTo(ByteOrder.BIG_ENDIAN);
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "Q8_0", "Q4_K", "Q6_K", "IQ4_XS"})
    void wholeTensorConvenienceReadsFromPosition(GgmlType type) {
        Reference ref = reference(type);
        ByteBuffer direct = ByteBuffer.allocateDirect(ref.blocks().length + 11);
        direct.put(11, ref.blocks());
        direct.position(11);
        float[] out = Dequantizer.dequantize(type, direct.asReadOnlyBuffer(), "blk.0.weight", ref.elements());
        assertThat(out).hasSize(ref.elements());
        assertBitsEqual(type, "tensor convenience", out, 0, ref.expected());
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "BF16", "Q5_1", "Q8_0", "Q3_K", "Q4_K", "Q5_K", "IQ4_NL"})
    void streamsIntoDirectAndHeapFloatBuffersInPieces(GgmlType type) {
        Reference ref = reference(type);
        int total = ref.elements();
        int first = total / type.blockSize() / 3 * type.blockSize();
        for (FloatBuffer dst : new FloatBuffer[] {
            ByteBuffer.allocateDirect(4 * (total + 1))
                    .order(ByteOrder.nativeOrder())
                    .asFloatBuffer(),
            FloatBuffer.allocate(total + 1),
        }) {
            ByteBuffer src = ByteBuffer.allocateDirect(ref.blocks().length)
                    .put(ref.blocks())
                    .flip();
            dst.position(1);
            Dequantizer.dequantize(type, src, dst, first, "t");
            assertThat(src.position()).isEqualTo((int) type.byteSize(first));
            assertThat(dst.position()).isEqualTo(1 + first);
            Dequantizer.dequantize(type, src, dst, total - first, null);
            assertThat(src.hasRemaining()).isFalse();
            assertThat(dst.position()).isEqualTo(1 + total);

            float[] out = new float[total];
            dst.get(1, out);
            assertBitsEqual(type, (dst.isDirect() ? "direct" : "heap") + " FloatBuffer", out, 0, ref.expected());
        }
    }

    @Test
    void supportsExactlyTheDocumentedTypes() {
        for (GgmlType type : GgmlType.values()) {
            assertThat(Dequantizer.isSupported(type)).as("%s", type).isEqualTo(SUPPORTED.contains(type));
        }
    }

    @Test
    void unsupportedTypeNamesTheTypeAndTensor() {
        ByteBuffer src = ByteBuffer.allocate(1024);
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.IQ2_XXS, src, 0, new float[256], 0, 256))
                .isInstanceOfSatisfying(UnsupportedGgufTypeException.class, e -> {
                    assertThat(e.type()).isEqualTo(GgmlType.IQ2_XXS);
                    assertThat(e.tensorName()).isNull();
                })
                .hasMessageContaining("IQ2_XXS")
                .hasMessageContaining("dequantization");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_K, src, "double_blocks.3.img_mlp.0.weight", 256))
                .isInstanceOfSatisfying(
                        UnsupportedGgufTypeException.class,
                        e -> assertThat(e.tensorName()).isEqualTo("double_blocks.3.img_mlp.0.weight"))
                .hasMessageContaining("Q8_K")
                .hasMessageContaining("double_blocks.3.img_mlp.0.weight");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.I32, src, FloatBuffer.allocate(4), 4, null))
                .isInstanceOf(UnsupportedGgufTypeException.class)
                .hasMessageContaining("I32");
    }

    @Test
    void rejectsPartialBlocksAndNegativeCounts() {
        ByteBuffer src = ByteBuffer.allocate(1024);
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, 0, new float[64], 0, 33))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("33")
                .hasMessageContaining("Q8_0")
                .hasMessageContaining("block size 32");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q4_K, src, 0, new float[64], 0, -256))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q6_K, src, "w", 100))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'w'")
                .hasMessageContaining("block size 256");
    }

    @Test
    void rejectsRangesOutsideSourceAndDestination() {
        ByteBuffer src = ByteBuffer.allocate(68).limit(60); // room for one Q8_0 block below the limit
        float[] dst = new float[64];
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, 0, dst, 0, 64))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("src")
                .hasMessageContaining("60");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, 30, dst, 0, 32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("src range [30, 64)");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, -1, dst, 0, 32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("src");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, 0, dst, 40, 32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dst range [40, 72)")
                .hasMessageContaining("64");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, 0, dst, -32, 32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dst");
        // Zero elements is a valid no-op, even at the very end of both ranges.
        Dequantizer.dequantize(GgmlType.Q8_0, src, 60, dst, 64, 0);
    }

    @Test
    void wholeTensorConvenienceNamesTheTensor() {
        ByteBuffer src = ByteBuffer.allocate(34 * 2);
        src.position(34);
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, "img_in.weight", 64))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'img_in.weight'")
                .hasMessageContaining("68 bytes")
                .hasMessageContaining("34 remaining");
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.F32, src, "huge", 1L << 32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'huge'")
                .hasMessageContaining("Java array");
        assertThat(Dequantizer.dequantize(GgmlType.Q8_0, src, "empty", 0)).isEmpty();
    }

    @Test
    void streamingRejectsBadDestinationsWithoutWriting() {
        ByteBuffer src = ByteBuffer.allocate(34 * 2);
        FloatBuffer small = FloatBuffer.allocate(40);
        assertThatThrownBy(() -> Dequantizer.dequantize(GgmlType.Q8_0, src, small, 64, "x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'x'")
                .hasMessageContaining("40 remaining");
        assertThat(src.position()).isZero();
        assertThat(small.position()).isZero();
        assertThatThrownBy(() -> Dequantizer.dequantize(
                        GgmlType.Q8_0, src, FloatBuffer.allocate(64).asReadOnlyBuffer(), 64, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("read-only");
        assertThatThrownBy(() ->
                        Dequantizer.dequantize(GgmlType.Q8_0, src.position(40), FloatBuffer.allocate(64), 32, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("28 remaining");
    }

    @Test
    void q8_0SpotValuesAreScaleTimesQuant() {
        // A hand-made block as a sanity check independent of the reference files: d = -0.5.
        byte[] block = new byte[34];
        short d = Float16.fromFloat(-0.5f);
        block[0] = (byte) d;
        block[1] = (byte) (d >> 8);
        for (int i = 0; i < 32; i++) {
            block[2 + i] = (byte) (i * 8 - 128); // -128, -120, ..., 120
        }
        float[] out = new float[32];
        Dequantizer.dequantize(GgmlType.Q8_0, ByteBuffer.wrap(block), 0, out, 0, 32);
        assertThat(out[0]).isEqualTo(64f);
        assertThat(out[31]).isEqualTo(-60f);
    }
}
