package io.github.flux4j.gguf.quant;

/**
 * The unquantized float formats (block size 1): each "block" is one value.
 *
 * <ul>
 *   <li>F32: 4 bytes, IEEE binary32 little-endian; copied bit for bit (NaN payloads kept).
 *   <li>F16: 2 bytes, IEEE binary16 little-endian; widened exactly.
 *   <li>BF16: 2 bytes, bfloat16 little-endian (the top half of a binary32); widened exactly.
 * </ul>
 */
final class PlainDecoders {
    private PlainDecoders() {}

    /** F32: a bit copy. */
    static final class F32 extends BlockDecoder {
        @Override
        void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
            for (int i = 0; i < blocks; i++) {
                dst[dstOff + i] = Float.intBitsToFloat(int32(src, srcOff + 4 * i));
            }
        }
    }

    /**
     * F16: table widening, exact (as numpy's {@code astype(np.float32)}). The 256 KiB table stays
     * in L2 and measured faster than decoding normal halves with bit arithmetic and a branch.
     */
    static final class F16 extends BlockDecoder {
        @Override
        void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
            for (int i = 0; i < blocks; i++) {
                dst[dstOff + i] = f16(src, srcOff + 2 * i);
            }
        }
    }

    /** BF16: the 16 bits become the high half of a float32. */
    static final class BF16 extends BlockDecoder {
        @Override
        void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
            for (int i = 0; i < blocks; i++) {
                dst[dstOff + i] = Float.intBitsToFloat(int16(src, srcOff + 2 * i) << 16);
            }
        }
    }
}
