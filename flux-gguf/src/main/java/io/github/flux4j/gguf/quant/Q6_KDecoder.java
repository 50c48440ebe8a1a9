package io.github.flux4j.gguf.quant;

/**
 * Q6_K: 256 elements in 210 bytes, 16 groups of 16 with int8 scales.
 *
 * <pre>
 * offset size field
 *      0  128 ql      low 4 bits: element 128*h + 64*s + l (h &lt; 2, s &lt; 2, l &lt; 64) is
 *                     nibble s (low first) of byte 64*h + l
 *    128   64 qh      top 2 bits: element 128*h + 32*j + l (j &lt; 4, l &lt; 32) is bits
 *                     2j..2j+1 of byte 128 + 32*h + l
 *    192   16 scales  int8 scale of each group of 16
 *    208    2 d       float16 super-scale
 * </pre>
 *
 * Value in group g: {@code (d * scale[g]) * (q - 32)}.
 */
final class Q6_KDecoder extends BlockDecoder {
    static final int BYTES = 210;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 256) {
            float d = f16(src, p + 208);
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    int lowShift = 4 * (j >> 1);
                    int highShift = 2 * j;
                    for (int sub = 0; sub < 2; sub++) {
                        float dl = d * src[p + 192 + h * 8 + j * 2 + sub];
                        int ql = p + h * 64 + (j & 1) * 32 + sub * 16;
                        int qh = p + 128 + h * 32 + sub * 16;
                        int out = o + h * 128 + j * 32 + sub * 16;
                        for (int l = 0; l < 16; l++) {
                            int v = ((src[ql + l] >> lowShift) & 0xF) | ((src[qh + l] >> highShift) & 3) << 4;
                            dst[out + l] = dl * (v - 32);
                        }
                    }
                }
            }
        }
    }
}
