package io.github.flux4j.gguf.quant;

/**
 * Q4_0: 32 elements in 18 bytes.
 *
 * <pre>
 * offset size field
 *      0    2 d   float16 scale
 *      2   16 qs  4-bit quants: byte l holds element l (low nibble) and element l + 16 (high)
 * </pre>
 *
 * Value: {@code d * (q - 8)}.
 */
final class Q4_0Decoder extends BlockDecoder {
    static final int BYTES = 18;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 32) {
            float d = f16(src, p);
            for (int l = 0; l < 16; l++) {
                int q = src[p + 2 + l];
                dst[o + l] = d * ((q & 0xF) - 8);
                dst[o + 16 + l] = d * (((q >> 4) & 0xF) - 8);
            }
        }
    }
}
