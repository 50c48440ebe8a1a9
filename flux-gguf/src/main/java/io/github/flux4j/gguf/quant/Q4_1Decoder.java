package io.github.flux4j.gguf.quant;

/**
 * Q4_1: 32 elements in 20 bytes.
 *
 * <pre>
 * offset size field
 *      0    2 d   float16 scale
 *      2    2 m   float16 minimum
 *      4   16 qs  4-bit quants: byte l holds element l (low nibble) and element l + 16 (high)
 * </pre>
 *
 * Value: {@code (d * q) + m}, two roundings as in numpy.
 */
final class Q4_1Decoder extends BlockDecoder {
    static final int BYTES = 20;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 32) {
            float d = f16(src, p);
            float m = f16(src, p + 2);
            for (int l = 0; l < 16; l++) {
                int q = src[p + 4 + l];
                dst[o + l] = d * (q & 0xF) + m;
                dst[o + 16 + l] = d * ((q >> 4) & 0xF) + m;
            }
        }
    }
}
