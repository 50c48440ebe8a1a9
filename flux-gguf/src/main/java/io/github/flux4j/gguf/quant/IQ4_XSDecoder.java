package io.github.flux4j.gguf.quant;

/**
 * IQ4_XS: 256 elements in 136 bytes, 8 sub-blocks of 32 with signed 6-bit scales and 4-bit
 * indices into the IQ4_NL codebook.
 *
 * <pre>
 * offset size field
 *      0    2 d         float16 super-scale
 *      2    2 scales_h  uint16 little-endian: bits 2j..2j+1 are the top bits of scale j
 *      4    4 scales_l  low 4 bits of scale j: nibble j % 2 (low first) of byte j / 2
 *      8  128 qs        element 32*j + 16*s + l (s &lt; 2, l &lt; 16) is nibble s of byte 16*j + l
 * </pre>
 *
 * Value in sub-block j: {@code (d * (scale[j] - 32)) * KVALUES[q]}.
 */
final class IQ4_XSDecoder extends BlockDecoder {
    static final int BYTES = 136;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        float[] kv = IQ4_NLDecoder.KVALUES;
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 256) {
            float d = f16(src, p);
            int scalesH = (src[p + 2] & 0xFF) | (src[p + 3] & 0xFF) << 8;
            for (int j = 0; j < 8; j++) {
                int low = (src[p + 4 + (j >> 1)] >> (4 * (j & 1))) & 0xF;
                int high = (scalesH >>> (2 * j)) & 3;
                float dl = d * ((low | high << 4) - 32);
                int q = p + 8 + j * 16;
                int out = o + j * 32;
                for (int l = 0; l < 16; l++) {
                    int v = src[q + l];
                    dst[out + l] = dl * kv[v & 0xF];
                    dst[out + 16 + l] = dl * kv[(v >> 4) & 0xF];
                }
            }
        }
    }
}
