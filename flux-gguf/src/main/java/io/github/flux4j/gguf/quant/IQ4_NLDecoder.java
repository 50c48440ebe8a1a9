package io.github.flux4j.gguf.quant;

/**
 * IQ4_NL: 32 elements in 18 bytes, 4-bit indices into a fixed non-linear codebook.
 *
 * <pre>
 * offset size field
 *      0    2 d   float16 scale
 *      2   16 qs  4-bit indices: byte l holds element l (low nibble) and element l + 16 (high)
 * </pre>
 *
 * Value: {@code d * KVALUES[q]}.
 */
final class IQ4_NLDecoder extends BlockDecoder {
    static final int BYTES = 18;

    /** The IQ4 codebook (shared with IQ4_XS), as exact floats. */
    static final float[] KVALUES = {
        -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
    };

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        float[] kv = KVALUES;
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 32) {
            float d = f16(src, p);
            for (int l = 0; l < 16; l++) {
                int q = src[p + 2 + l];
                dst[o + l] = d * kv[q & 0xF];
                dst[o + 16 + l] = d * kv[(q >> 4) & 0xF];
            }
        }
    }
}
