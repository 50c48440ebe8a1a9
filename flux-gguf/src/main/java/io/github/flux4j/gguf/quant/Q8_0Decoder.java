package io.github.flux4j.gguf.quant;

/**
 * Q8_0: 32 elements in 34 bytes.
 *
 * <pre>
 * offset size field
 *      0    2 d   float16 scale
 *      2   32 qs  int8 quants, element i in byte i
 * </pre>
 *
 * Value: {@code q * d} (one rounding; the order of the factors does not matter).
 */
final class Q8_0Decoder extends BlockDecoder {
    static final int BYTES = 34;

    @Override
    void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks) {
        int p = srcOff;
        int o = dstOff;
        for (int b = 0; b < blocks; b++, p += BYTES, o += 32) {
            float d = f16(src, p);
            int q = p + 2;
            for (int i = 0; i < 32; i++) {
                dst[o + i] = src[q + i] * d;
            }
        }
    }
}
