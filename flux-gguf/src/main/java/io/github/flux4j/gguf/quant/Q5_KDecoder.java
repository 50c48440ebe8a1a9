package io.github.flux4j.gguf.quant;

/**
 * Q5_K: 256 elements in 176 bytes, 8 sub-blocks of 32 with 6-bit scales and minimums.
 *
 * <pre>
 * offset size field
 *      0    2 d       float16 super-scale of the scales
 *      2    2 dmin    float16 super-scale of the minimums
 *      4   12 scales  packed 6-bit scale/minimum pairs, as in Q4_K
 *     16   32 qh      fifth bits: element 32*j + l (j &lt; 8, l &lt; 32) is bit j of byte l
 *     48  128 qs      low 4 bits: element 64*c + 32*s + l is nibble s of byte 32*c + l
 * </pre>
 *
 * Value in sub-block j: {@code (d * sc[j]) * q - (dmin * m[j])}.
 */
final class Q5_KDecoder extends BlockDecoder {
    static final int BYTES = 176;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 256) {
            float d = f16(src, p);
            float dmin = f16(src, p + 2);
            int qh = p + 16;
            // Sub-blocks 2c and 2c + 1 share their low-bit bytes (low and high nibbles).
            for (int c = 0; c < 4; c++) {
                float dlLo = d * Q4_KDecoder.scale(src, p + 4, 2 * c);
                float mlLo = dmin * Q4_KDecoder.min(src, p + 4, 2 * c);
                float dlHi = d * Q4_KDecoder.scale(src, p + 4, 2 * c + 1);
                float mlHi = dmin * Q4_KDecoder.min(src, p + 4, 2 * c + 1);
                int q = p + 48 + c * 32;
                int out = o + c * 64;
                for (int l = 0; l < 32; l++) {
                    int v = src[q + l];
                    int h = src[qh + l] >> (2 * c);
                    dst[out + l] = dlLo * ((v & 0xF) | (h & 1) << 4) - mlLo;
                    dst[out + 32 + l] = dlHi * (((v >> 4) & 0xF) | (h & 2) << 3) - mlHi;
                }
            }
        }
    }
}
