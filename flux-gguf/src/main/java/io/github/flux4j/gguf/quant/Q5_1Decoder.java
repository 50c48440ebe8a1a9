package io.github.flux4j.gguf.quant;

/**
 * Q5_1: 32 elements in 24 bytes.
 *
 * <pre>
 * offset size field
 *      0    2 d   float16 scale
 *      2    2 m   float16 minimum
 *      4    4 qh  uint32 little-endian: bit i is the fifth (high) bit of element i
 *      8   16 qs  low 4 bits: byte l holds element l (low nibble) and element l + 16 (high)
 * </pre>
 *
 * Value: {@code (d * q) + m}, two roundings as in numpy.
 */
final class Q5_1Decoder extends BlockDecoder {
    static final int BYTES = 24;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 32) {
            float d = f16(src, p);
            float m = f16(src, p + 2);
            int qh = int32(src, p + 4);
            for (int l = 0; l < 16; l++) {
                int q = src[p + 8 + l];
                int lo = (q & 0xF) | ((qh >>> l) & 1) << 4;
                int hi = ((q >> 4) & 0xF) | ((qh >>> (l + 16)) & 1) << 4;
                dst[o + l] = d * lo + m;
                dst[o + 16 + l] = d * hi + m;
            }
        }
    }
}
