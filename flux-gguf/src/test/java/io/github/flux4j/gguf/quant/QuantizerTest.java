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
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Checks {@link Quantizer} byte for byte against the reference quantizers (gguf-py for F16, BF16
 * and the legacy types, ggml's C reference for the K-quants) on the data made by
 * {@code tools/reference/gguf_quant_refs.py}; checks ggml's round-trip error budgets from
 * {@code tests/test-quantize-fns.cpp}; and checks the buffer entry point and argument validation.
 */
class QuantizerTest {
    private static final Set<GgmlType> SUPPORTED = EnumSet.of(
            GgmlType.F32,
            GgmlType.F16,
            GgmlType.BF16,
            GgmlType.Q8_0,
            GgmlType.Q4_0,
            GgmlType.Q4_1,
            GgmlType.Q5_0,
            GgmlType.Q5_1,
            GgmlType.Q2_K,
            GgmlType.Q3_K,
            GgmlType.Q4_K,
            GgmlType.Q5_K,
            GgmlType.Q6_K);

    @ParameterizedTest
    @EnumSource(names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void bytesEqualReference(GgmlType type) {
        float[] input = floats(resource(type + ".f32"));
        byte[] expected = resource(type + ".bytes");
        assertThat((long) expected.length).as("reference sizes").isEqualTo(type.byteSize(input.length));

        byte[] actual = Quantizer.quantize(type, input);

        assertSameBlocks(type, actual, expected);
    }

    /** The K-quant bytes, read by our dequantizer, give exactly what gguf-py read from ggml's bytes. */
    @ParameterizedTest
    @EnumSource(names = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void kQuantBytesDecodeLikeGgufPy(GgmlType type) {
        float[] input = floats(resource(type + ".f32"));
        float[] expected = floats(resource(type + ".dequant.f32"));

        float[] decoded = roundTrip(type, input);

        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(decoded[i]) != Float.floatToRawIntBits(expected[i])) {
                fail("%s element %d: decoded %s, gguf-py %s", type, i, decoded[i], expected[i]);
            }
        }
    }

    /**
     * ggml's quantization test: 32*128 values {@code 0.1 + 2 cos(i)}, error
     * {@code sqrt(sum (x - x')^2) / n} below the per-type limit of test-quantize-fns.cpp.
     */
    @ParameterizedTest
    @EnumSource(names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void totalErrorWithinGgmlBudget(GgmlType type) {
        float[] x = new float[32 * 128];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (0.1 + 2 * (float) Math.cos((float) i));
        }
        float budget = switch (type) {
            case Q2_K -> 0.0075f;
            case Q3_K -> 0.0040f;
            default -> 0.002f;
        };

        float[] y = roundTrip(type, x);

        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            double diff = x[i] - y[i];
            sum += diff * diff;
        }
        assertThat(Math.sqrt(sum) / x.length)
                .as("%s total quantization error", type)
                .isLessThan(budget);
    }

    /** On Gaussian data more bits give less error, and every K-quant beats the legacy 4-bit format. */
    @Test
    void errorFallsWithBitWidth() {
        Random random = new Random(42);
        float[] x = new float[256 * 16];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        GgmlType[] byBits = {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0};
        double previous = Double.MAX_VALUE;
        for (GgmlType type : byBits) {
            double rms = rms(x, roundTrip(type, x));
            assertThat(rms).as("%s rms error", type).isLessThan(previous);
            previous = rms;
        }
        assertThat(rms(x, roundTrip(GgmlType.Q4_K, x))).isLessThan(rms(x, roundTrip(GgmlType.Q4_0, x)));
        assertThat(rms(x, roundTrip(GgmlType.Q6_K, x))).as("Q6_K relative rms").isLessThan(0.02);
    }

    @Test
    void f32KeepsEveryBitPattern() {
        float[] x = {
            0f,
            -0f,
            1.5f,
            Float.MIN_VALUE,
            Float.MAX_VALUE,
            Float.NEGATIVE_INFINITY,
            Float.intBitsToFloat(0x7FC0_1234),
            Float.intBitsToFloat(0xFF80_0001)
        };

        byte[] bytes = Quantizer.quantize(GgmlType.F32, x);

        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < x.length; i++) {
            assertThat(b.getInt(4 * i)).isEqualTo(Float.floatToRawIntBits(x[i]));
        }
    }

    /** The buffer form writes exactly its range, little-endian whatever the buffer's order, and keeps the buffer's state. */
    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_1", "Q5_0", "Q3_K", "Q4_K", "Q6_K"})
    void bufferFormWritesOnlyItsRangeInto(GgmlType type) {
        float[] input = new float[3 * 256 + 256 * 2];
        Random random = new Random(7);
        for (int i = 0; i < input.length; i++) {
            input[i] = (float) random.nextGaussian() * 3;
        }
        int srcOffset = 256;
        int elements = 512;
        int bytes = (int) type.byteSize(elements);
        byte[] expected = Quantizer.quantize(type, Arrays.copyOfRange(input, srcOffset, srcOffset + elements));
        int dstOffset = 13;
        for (ByteBuffer dst : new ByteBuffer[] {
            ByteBuffer.allocate(dstOffset + bytes + 5),
            ByteBuffer.allocateDirect(dstOffset + bytes + 5).order(ByteOrder.BIG_ENDIAN)
        }) {
            for (int i = 0; i < dst.capacity(); i++) {
                dst.put(i, (byte) 0x5A);
            }
            dst.position(3).limit(dstOffset + bytes + 1);
            ByteOrder order = dst.order();

            Quantizer.quantize(type, input, srcOffset, elements, dst, dstOffset);

            assertThat(dst.position()).isEqualTo(3);
            assertThat(dst.limit()).isEqualTo(dstOffset + bytes + 1);
            assertThat(dst.order()).isEqualTo(order);
            byte[] all = new byte[dst.capacity()];
            dst.duplicate().clear().get(all);
            assertThat(Arrays.copyOfRange(all, dstOffset, dstOffset + bytes)).isEqualTo(expected);
            for (int i = 0; i < all.length; i++) {
                if (i < dstOffset || i >= dstOffset + bytes) {
                    assertThat(all[i]).as("byte %d outside the output", i).isEqualTo((byte) 0x5A);
                }
            }
        }
    }

    @Test
    void zeroElementsWriteNothing() {
        ByteBuffer dst = ByteBuffer.allocate(0);
        Quantizer.quantize(GgmlType.Q4_K, new float[0], 0, 0, dst, 0);
        assertThat(Quantizer.quantize(GgmlType.Q8_0, new float[0])).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void isSupportedListsTheImplementedTypes(GgmlType type) {
        assertThat(Quantizer.isSupported(type)).isEqualTo(SUPPORTED.contains(type));
        if (!SUPPORTED.contains(type)) {
            float[] src = new float[type.blockSize()];
            assertThatThrownBy(() -> Quantizer.quantize(type, src))
                    .isInstanceOfSatisfying(UnsupportedGgufTypeException.class, e -> {
                        assertThat(e.type()).isEqualTo(type);
                        assertThat(e.tensorName()).isNull();
                    })
                    .hasMessageContaining("quantization")
                    .hasMessageContaining(type.name());
            assertThatThrownBy(() -> Quantizer.quantize(type, src, 0, src.length, ByteBuffer.allocate(1024), 0))
                    .isInstanceOf(UnsupportedGgufTypeException.class);
        }
    }

    @Test
    void rejectsInvalidArguments() {
        float[] src = new float[64];
        ByteBuffer dst = ByteBuffer.allocate(100);
        assertThatThrownBy(() -> Quantizer.quantize(null, src))
                .isInstanceOf(NullPointerException.class)
                .hasMessageContaining("type");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, null))
                .isInstanceOf(NullPointerException.class)
                .hasMessageContaining("src");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, src, 0, 32, null, 0))
                .isInstanceOf(NullPointerException.class)
                .hasMessageContaining("dst");
        assertThatThrownBy(() -> Quantizer.isSupported(null)).isInstanceOf(NullPointerException.class);

        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, new float[33]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("33")
                .hasMessageContaining("32");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, src, 0, -32, dst, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("elements");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q4_K, src, 0, 64, dst, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("block size 256");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, src, -1, 32, dst, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("source range");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, src, 33, 32, dst, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("length 64");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, src, 0, 64, dst, 33))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("68 bytes");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, src, 0, 32, dst, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dstOffset -1");
        assertThatThrownBy(() -> Quantizer.quantize(
                        GgmlType.F32, src, 0, 32, dst.duplicate().limit(127 - 100), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("limit 27");
        assertThatThrownBy(() -> Quantizer.quantize(GgmlType.Q8_0, src, 0, 32, dst.asReadOnlyBuffer(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("read-only");
    }

    // ---------------------------------------------------------------------------------------------

    private static float[] roundTrip(GgmlType type, float[] x) {
        byte[] q = Quantizer.quantize(type, x);
        float[] y = new float[x.length];
        Dequantizer.dequantize(type, ByteBuffer.wrap(q), 0, y, 0, x.length);
        return y;
    }

    private static double rms(float[] x, float[] y) {
        double sum = 0;
        double ref = 0;
        for (int i = 0; i < x.length; i++) {
            double d = x[i] - y[i];
            sum += d * d;
            ref += (double) x[i] * x[i];
        }
        return Math.sqrt(sum / ref);
    }

    /** Equal bytes, or a failure naming the first differing block and both versions of it. */
    private static void assertSameBlocks(GgmlType type, byte[] actual, byte[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        int size = type.typeSize();
        for (int b = 0; b < expected.length / size; b++) {
            byte[] a = Arrays.copyOfRange(actual, b * size, (b + 1) * size);
            byte[] e = Arrays.copyOfRange(expected, b * size, (b + 1) * size);
            if (!Arrays.equals(a, e)) {
                fail(
                        "%s block %d differs (%d of %d blocks differ)%n actual:   %s%n expected: %s",
                        type, b, countDifferentBlocks(actual, expected, size), expected.length / size, hex(a), hex(e));
            }
        }
    }

    private static int countDifferentBlocks(byte[] actual, byte[] expected, int size) {
        int n = 0;
        for (int off = 0; off < expected.length; off += size) {
            if (!Arrays.equals(actual, off, off + size, expected, off, off + size)) {
                n++;
            }
        }
        return n;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte v : b) {
            s.append(String.format("%02x", v));
        }
        return s.toString();
    }

    private static float[] floats(byte[] raw) {
        float[] f = new float[raw.length / 4];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    private static byte[] resource(String name) {
        String path = "/reference/quant/" + name;
        try (InputStream in = QuantizerTest.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + path);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
