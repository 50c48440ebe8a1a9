package io.github.flux4j.gguf.quant;

/**
 * Q3_K: 256 elements in 110 bytes, 16 groups of 16 with signed 6-bit scales.
 *
 * <pre>
 * offset size field
 *      0   32 hmask   high bits: element 32*k + l (k &lt; 8, l &lt; 32) is bit k of byte l;
 *                     a clear bit subtracts 4 from the quant
 *     32   64 qs      low 2 bits: element 128*h + 32*j + l is bits 2j..2j+1 of byte 32 + 32*h + l
 *     96   12 scales  6-bit scales, biased by 32: scale g's low 4 bits are the low (g &lt; 8) or
 *                     high (g &gt;= 8) nibble of byte g % 8, its top 2 bits are bits
 *                     2*(g / 4)..+1 of byte 8 + g % 4
 *    108    2 d       float16 super-scale
 * </pre>
 *
 * Value in group g: {@code (d * (scale - 32)) * (low2 - (highBit ? 0 : 4))}.
 */
final class Q3_KDecoder extends BlockDecoder {
    static final int BYTES = 110;

    /** Scale g (0..15) of the 12 packed bytes at {@code s}, with its bias of 32 removed. */
    private static int scale(byte[] src, int s, int g) {
        int low = (src[s + (g & 7)] >> (g < 8 ? 0 : 4)) & 0xF;
        int high = (src[s + 8 + (g & 3)] >> (2 * (g >> 2))) & 3;
        return (low | high << 4) - 32;
    }

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 256) {
            float d = f16(src, p + 108);
            int scales = p + 96;
            // One pass per 16-byte slice writes the four elements (j = 0..3, 32 apart) of each
            // quant byte; their high bits are bits 4h + j of the matching hmask byte.
            for (int h = 0; h < 2; h++) {
                for (int sub = 0; sub < 2; sub++) {
                    int g = h * 8 + sub;
                    float dl0 = d * scale(src, scales, g);
                    float dl1 = d * scale(src, scales, g + 2);
                    float dl2 = d * scale(src, scales, g + 4);
                    float dl3 = d * scale(src, scales, g + 6);
                    int q = p + 32 + h * 32 + sub * 16;
                    int hm = p + sub * 16;
                    int out = o + h * 128 + sub * 16;
                    for (int l = 0; l < 16; l++) {
                        int v = src[q + l];
                        // Inverted high bits: a set bit here means "subtract 4".
                        int sub4 = ~(src[hm + l] >> (4 * h));
                        dst[out + l] = dl0 * ((v & 3) - ((sub4 & 1) << 2));
                        dst[out + 32 + l] = dl1 * (((v >> 2) & 3) - ((sub4 & 2) << 1));
                        dst[out + 64 + l] = dl2 * (((v >> 4) & 3) - (sub4 & 4));
                        dst[out + 96 + l] = dl3 * (((v >> 6) & 3) - ((sub4 & 8) >> 1));
                    }
                }
            }
        }
    }
}
