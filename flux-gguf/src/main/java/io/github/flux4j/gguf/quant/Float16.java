package io.github.flux4j.gguf.quant;

/**
 * IEEE half precision (binary16) and bfloat16 conversions, bit-exact with numpy's
 * {@code astype(np.float16)} / {@code astype(np.float32)} and gguf-py's BF16 rounding.
 *
 * <p>Java 17 has no {@code Float.float16ToFloat}; decoding goes through a 65536-entry table so
 * that the dequantizers' inner loops cost one array load per scale.
 */
public final class Float16 {
    private static final float[] HALF_TO_FLOAT = new float[1 << 16];

    static {
        for (int h = 0; h < HALF_TO_FLOAT.length; h++) {
            HALF_TO_FLOAT[h] = decode((short) h);
        }
    }

    private Float16() {}

    /** The float32 value of a binary16 bit pattern (exact: every half is a float). */
    public static float toFloat(short half) {
        return HALF_TO_FLOAT[half & 0xFFFF];
    }

    /** The float32 value of a bfloat16 bit pattern (exact). */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /**
     * Rounds a float to the nearest binary16 (ties to even), with overflow to infinity, gradual
     * underflow to subnormals and NaN kept NaN, as numpy does.
     */
    public static short fromFloat(float value) {
        int f = Float.floatToRawIntBits(value);
        int sign = (f >>> 16) & 0x8000;
        int abs = f & 0x7FFF_FFFF;
        if (abs >= 0x7F80_0000) { // Inf or NaN
            if (abs == 0x7F80_0000) {
                return (short) (sign | 0x7C00);
            }
            // Keep the top 10 payload bits as numpy does (a signalling NaN stays signalling); a
            // payload that truncates to zero would read as Inf, so it becomes 1.
            int payload = (abs >>> 13) & 0x3FF;
            return (short) (sign | 0x7C00 | (payload == 0 ? 1 : payload));
        }
        if (abs >= 0x4780_0000) { // >= 65536: overflows binary16 whatever the rounding
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x3880_0000) { // below the smallest normal half (2^-14): subnormal or zero
            if (abs < 0x3300_0000) { // < 2^-25: rounds to zero (2^-25 itself is a tie to 0)
                return (short) sign;
            }
            int exp = abs >>> 23;
            int mant = (abs & 0x7F_FFFF) | 0x80_0000;
            // value = mant * 2^(exp - 150); in units of the half subnormal step 2^-24 that is
            // mant * 2^(exp - 126), i.e. mant shifted right by 126 - exp (14..24), rounded to even.
            int shift = 126 - exp;
            int rounded = roundShift(mant, shift);
            return (short) (sign | rounded);
        }
        // Normal range: rebias exponent 127 -> 15 and round the 13 dropped mantissa bits.
        int h = (abs - 0x3800_0000) >>> 13; // exponent and mantissa, truncated
        int rest = abs & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) {
            h++; // may carry into the exponent, and up to 0x7C00 (Inf), which is correct
        }
        return (short) (sign | h);
    }

    /**
     * Rounds a float to bfloat16 the way gguf-py's {@code BF16.quantize_blocks} does: NaN becomes a
     * quiet NaN ({@code (bits & 0xFFFF0000) | 64 << 16}), everything else rounds to nearest even.
     */
    public static short floatToBf16(float value) {
        int n = Float.floatToRawIntBits(value);
        if ((n & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) (((n & 0xFFFF_0000) | (64 << 16)) >>> 16);
        }
        // Two's complement wrap-around in int matches numpy's uint32 arithmetic here.
        n = n + (0x7FFF + ((n >>> 16) & 1));
        return (short) (n >>> 16);
    }

    private static int roundShift(int value, int shift) {
        int truncated = value >>> shift;
        int rest = value & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rest > half || (rest == half && (truncated & 1) != 0)) {
            truncated++;
        }
        return truncated;
    }

    private static float decode(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mant << 13));
        }
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24, exact in float
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
}
