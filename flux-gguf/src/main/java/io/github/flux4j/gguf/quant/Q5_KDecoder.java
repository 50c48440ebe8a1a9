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
            for (int j = 0; j < 8; j++) {
                float dl = d * Q4_KDecoder.scale(src, p + 4, j);
                float ml = dmin * Q4_KDecoder.min(src, p + 4, j);
                int qh = p + 16;
                int q = p + 48 + (j >> 1) * 32;
                int shift = (j & 1) * 4;
                int out = o + j * 32;
                for (int l = 0; l < 32; l++) {
                    int v = ((src[q + l] >> shift) & 0xF) | ((src[qh + l] >> j) & 1) << 4;
                    dst[out + l] = dl * v - ml;
                }
            }
        }
    }
}
