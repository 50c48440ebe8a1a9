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
            // One pass per 16-element slice reads ql[l], ql[l + 32] and qh[l] once and writes
            // the four elements (j = 0..3, 32 apart) built from them.
            for (int h = 0; h < 2; h++) {
                for (int sub = 0; sub < 2; sub++) {
                    int sc = p + 192 + h * 8 + sub;
                    float dl0 = d * src[sc];
                    float dl1 = d * src[sc + 2];
                    float dl2 = d * src[sc + 4];
                    float dl3 = d * src[sc + 6];
                    int ql = p + h * 64 + sub * 16;
                    int qh = p + 128 + h * 32 + sub * 16;
                    int out = o + h * 128 + sub * 16;
                    for (int l = 0; l < 16; l++) {
                        int lo = src[ql + l];
                        int lo32 = src[ql + 32 + l];
                        int hi = src[qh + l];
                        dst[out + l] = dl0 * (((lo & 0xF) | (hi & 3) << 4) - 32);
                        dst[out + 32 + l] = dl1 * (((lo32 & 0xF) | (hi & 0xC) << 2) - 32);
                        dst[out + 64 + l] = dl2 * ((((lo >> 4) & 0xF) | (hi & 0x30)) - 32);
                        dst[out + 96 + l] = dl3 * ((((lo32 >> 4) & 0xF) | (hi >> 2 & 0x30)) - 32);
                    }
                }
            }
        }
    }
}
