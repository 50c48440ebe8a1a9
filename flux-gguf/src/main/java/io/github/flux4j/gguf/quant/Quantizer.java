package io.github.flux4j.gguf.quant;

import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Quantizes float32 values into GGML tensor data.
 *
 * <p>Supported types and what the bytes are bit-identical to:
 * <ul>
 *   <li>F32; F16 (round to nearest even, as numpy's {@code astype(np.float16)}); BF16 (gguf-py's
 *       rounding, NaN made quiet);</li>
 *   <li>Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: gguf-py's {@code gguf.quants.quantize} (numpy float32
 *       arithmetic in the same order), including its behaviour on all-zero, signed-zero and
 *       overflowing blocks, and on non-finite inputs as numpy computes them on x86-64;</li>
 *   <li>Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: ggml's scalar reference quantizers
 *       ({@code quantize_row_qX_K_ref}, no importance matrix) compiled without fused multiply-add.
 *       Inputs must be finite.</li>
 * </ul>
 *
 * <p>All methods are stateless and thread-safe; callers may quantize disjoint ranges of one tensor
 * from several threads.
 */
public final class Quantizer {
    private Quantizer() {}

    /** Whether {@link #quantize(GgmlType, float[], int, int, ByteBuffer, int)} can produce this type. */
    public static boolean isSupported(GgmlType type) {
        return switch (Objects.requireNonNull(type, "type")) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    /**
     * Quantizes {@code src[srcOffset .. srcOffset + elements)} and writes the
     * {@code type.byteSize(elements)} bytes of GGML data (little-endian) at absolute index
     * {@code dstOffset} of {@code dst}. The buffer's position, limit and byte order are not changed.
     *
     * @throws NullPointerException if an argument is null
     * @throws UnsupportedGgufTypeException if {@link #isSupported(GgmlType)} is false for {@code type}
     * @throws IllegalArgumentException if {@code elements} is negative or not a whole number of
     *     blocks, if the source range lies outside {@code src}, if the output does not fit between
     *     {@code dstOffset} and {@code dst.limit()}, or if {@code dst} is read-only
     */
    public static void quantize(
            GgmlType type, float[] src, int srcOffset, int elements, ByteBuffer dst, int dstOffset) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(dst, "dst");
        if (!isSupported(type)) {
            throw new UnsupportedGgufTypeException(type, null, "quantization");
        }
        if (elements < 0) {
            throw new IllegalArgumentException("elements must not be negative: " + elements);
        }
        if (elements % type.blockSize() != 0) {
            throw new IllegalArgumentException("elements (" + elements + ") must be a multiple of the " + type
                    + " block size " + type.blockSize());
        }
        if (srcOffset < 0 || srcOffset > src.length - elements) {
            throw new IllegalArgumentException("source range [" + srcOffset + ", " + ((long) srcOffset + elements)
                    + ") is outside src of length " + src.length);
        }
        long bytes = type.byteSize(elements);
        if (dstOffset < 0 || dstOffset > dst.limit() - bytes) {
            throw new IllegalArgumentException("output of " + bytes + " bytes at dstOffset " + dstOffset
                    + " does not fit dst with limit " + dst.limit());
        }
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("dst is read-only");
        }
        // A little-endian view keeps the caller's buffer state (order included) untouched.
        ByteBuffer out = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < elements; i++) {
                    out.putInt(dstOffset + 4 * i, Float.floatToRawIntBits(src[srcOffset + i]));
                }
            }
            case F16 -> {
                for (int i = 0; i < elements; i++) {
                    out.putShort(dstOffset + 2 * i, Float16.fromFloat(src[srcOffset + i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < elements; i++) {
                    out.putShort(dstOffset + 2 * i, Float16.floatToBf16(src[srcOffset + i]));
                }
            }
            default -> quantizeBlocks(type, src, srcOffset, elements / type.blockSize(), out, dstOffset);
        }
    }

    /**
     * Quantizes all of {@code src} into a new array of {@code type.byteSize(src.length)} bytes.
     *
     * @throws NullPointerException if an argument is null
     * @throws UnsupportedGgufTypeException if {@link #isSupported(GgmlType)} is false for {@code type}
     * @throws IllegalArgumentException if {@code src.length} is not a whole number of blocks, or the
     *     output would not fit in a Java array
     */
    public static byte[] quantize(GgmlType type, float[] src) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(src, "src");
        if (!isSupported(type)) {
            throw new UnsupportedGgufTypeException(type, null, "quantization");
        }
        if (src.length % type.blockSize() != 0) {
            throw new IllegalArgumentException("src length (" + src.length + ") must be a multiple of the " + type
                    + " block size " + type.blockSize());
        }
        long bytes = type.byteSize(src.length);
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(
                    type + " data of " + src.length + " elements (" + bytes + " bytes) does not fit in a byte array");
        }
        byte[] out = new byte[(int) bytes];
        quantize(type, src, 0, src.length, ByteBuffer.wrap(out), 0);
        return out;
    }

    private static void quantizeBlocks(
            GgmlType type, float[] src, int srcOffset, int blocks, ByteBuffer out, int dstOffset) {
        int blockSize = type.blockSize();
        int typeSize = type.typeSize();
        byte[] block = new byte[typeSize];
        // K-quants need per-block scratch; one instance per call keeps the method thread-safe
        // (a few KiB, allocated for the legacy types too so that `k` is never null).
        KQuantBlocks k = new KQuantBlocks();
        for (int b = 0; b < blocks; b++) {
            int x = srcOffset + b * blockSize;
            switch (type) {
                case Q8_0 -> LegacyQuantBlocks.q8_0(src, x, block);
                case Q4_0 -> LegacyQuantBlocks.q4_0(src, x, block);
                case Q4_1 -> LegacyQuantBlocks.q4_1(src, x, block);
                case Q5_0 -> LegacyQuantBlocks.q5_0(src, x, block);
                case Q5_1 -> LegacyQuantBlocks.q5_1(src, x, block);
                case Q2_K -> k.q2K(src, x, block);
                case Q3_K -> k.q3K(src, x, block);
                case Q4_K -> k.q4K(src, x, block);
                case Q5_K -> k.q5K(src, x, block);
                case Q6_K -> k.q6K(src, x, block);
                default -> throw new AssertionError(type);
            }
            // Cannot overflow: the whole output was checked to end at or before dst.limit().
            out.put(dstOffset + b * typeSize, block, 0, typeSize);
        }
    }
}
