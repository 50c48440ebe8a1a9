package io.github.flux4j.gguf.quant;

/**
 * Q2_K: 256 elements in 84 bytes, 16 groups of 16 with 4-bit scales and minimums.
 *
 * <pre>
 * offset size field
 *      0   16 scales  byte g: group g's scale (low nibble) and minimum (high nibble)
 *     16   64 qs      2-bit quants: element 128*h + 32*j + l (h &lt; 2, j &lt; 4, l &lt; 32)
 *                     is bits 2j..2j+1 of byte 32*h + l
 *     80    2 d       float16 super-scale of the scales
 *     82    2 dmin    float16 super-scale of the minimums
 * </pre>
 *
 * Value in group g (element / 16): {@code (d * sc) * q - (dmin * m)}, rounding after every
 * operation as numpy does.
 */
final class Q2_KDecoder extends BlockDecoder {
    static final int BYTES = 84;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 256) {
            float d = f16(src, p + 80);
            float dmin = f16(src, p + 82);
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    int shift = 2 * j;
                    for (int sub = 0; sub < 2; sub++) {
                        int sc = src[p + h * 8 + j * 2 + sub] & 0xFF;
                        float dl = d * (sc & 0xF);
                        float ml = dmin * (sc >>> 4);
                        int q = p + 16 + h * 32 + sub * 16;
                        int out = o + h * 128 + j * 32 + sub * 16;
                        for (int l = 0; l < 16; l++) {
                            dst[out + l] = dl * ((src[q + l] >> shift) & 3) - ml;
                        }
                    }
                }
            }
        }
    }
}
