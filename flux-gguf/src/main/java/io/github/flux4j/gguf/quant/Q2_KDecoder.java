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
            // One pass per 16-byte slice writes the four elements (j = 0..3, 32 apart) of each byte.
            for (int h = 0; h < 2; h++) {
                for (int sub = 0; sub < 2; sub++) {
                    int sc = p + h * 8 + sub;
                    int s0 = src[sc] & 0xFF;
                    int s1 = src[sc + 2] & 0xFF;
                    int s2 = src[sc + 4] & 0xFF;
                    int s3 = src[sc + 6] & 0xFF;
                    float dl0 = d * (s0 & 0xF);
                    float ml0 = dmin * (s0 >>> 4);
                    float dl1 = d * (s1 & 0xF);
                    float ml1 = dmin * (s1 >>> 4);
                    float dl2 = d * (s2 & 0xF);
                    float ml2 = dmin * (s2 >>> 4);
                    float dl3 = d * (s3 & 0xF);
                    float ml3 = dmin * (s3 >>> 4);
                    int q = p + 16 + h * 32 + sub * 16;
                    int out = o + h * 128 + sub * 16;
                    for (int l = 0; l < 16; l++) {
                        int v = src[q + l];
                        dst[out + l] = dl0 * (v & 3) - ml0;
                        dst[out + 32 + l] = dl1 * ((v >> 2) & 3) - ml1;
                        dst[out + 64 + l] = dl2 * ((v >> 4) & 3) - ml2;
                        dst[out + 96 + l] = dl3 * ((v >> 6) & 3) - ml3;
                    }
                }
            }
        }
    }
}
