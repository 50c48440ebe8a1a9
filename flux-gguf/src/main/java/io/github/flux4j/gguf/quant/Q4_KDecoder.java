package io.github.flux4j.gguf.quant;

/**
 * Q4_K: 256 elements in 144 bytes, 8 sub-blocks of 32 with 6-bit scales and minimums.
 *
 * <pre>
 * offset size field
 *      0    2 d       float16 super-scale of the scales
 *      2    2 dmin    float16 super-scale of the minimums
 *      4   12 scales  packed 6-bit scale/minimum pairs, see {@link #scale} and {@link #min}
 *     16  128 qs      4-bit quants: element 64*c + 32*s + l (c &lt; 4, s &lt; 2, l &lt; 32) is
 *                     nibble s (low first) of byte 32*c + l
 * </pre>
 *
 * Value in sub-block j (element / 32): {@code (d * sc[j]) * q - (dmin * m[j])}.
 */
final class Q4_KDecoder extends BlockDecoder {
    static final int BYTES = 144;

    /**
     * Scale j of the 12 packed bytes at {@code s}: bytes 0..3 hold scales 0..3 in their low 6 bits;
     * scales 4..7 take their low 4 bits from the low nibble of bytes 8..11 and their top 2 bits
     * from the top 2 bits of bytes 0..3.
     */
    static int scale(byte[] src, int s, int j) {
        return j < 4 ? src[s + j] & 63 : (src[s + j + 4] & 0xF) | ((src[s + j - 4] >> 2) & 0x30);
    }

    /**
     * Minimum j of the 12 packed bytes at {@code s}: bytes 4..7 hold minimums 0..3 in their low 6
     * bits; minimums 4..7 take their low 4 bits from the high nibble of bytes 8..11 and their top 2
     * bits from the top 2 bits of bytes 4..7.
     */
    static int min(byte[] src, int s, int j) {
        return j < 4 ? src[s + j + 4] & 63 : ((src[s + j + 4] & 0xFF) >>> 4) | ((src[s + j] >> 2) & 0x30);
    }

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 256) {
            float d = f16(src, p);
            float dmin = f16(src, p + 2);
            // Sub-blocks 2c and 2c + 1 share bytes (low and high nibbles): one pass does both.
            for (int c = 0; c < 4; c++) {
                float dlLo = d * scale(src, p + 4, 2 * c);
                float mlLo = dmin * min(src, p + 4, 2 * c);
                float dlHi = d * scale(src, p + 4, 2 * c + 1);
                float mlHi = dmin * min(src, p + 4, 2 * c + 1);
                int q = p + 16 + c * 32;
                int out = o + c * 64;
                for (int l = 0; l < 32; l++) {
                    int v = src[q + l];
                    dst[out + l] = dlLo * (v & 0xF) - mlLo;
                    dst[out + 32 + l] = dlHi * ((v >> 4) & 0xF) - mlHi;
                }
            }
        }
    }
}
