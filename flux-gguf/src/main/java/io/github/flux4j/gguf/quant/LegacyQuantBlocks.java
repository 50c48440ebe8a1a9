package io.github.flux4j.gguf.quant;

/**
 * One-block quantizers for the 32-element legacy formats, bit-identical to gguf-py's numpy
 * implementation.
 *
 * <p>Every numpy float32 operation is one Java float operation in the same order (numpy 2 keeps
 * float32 when a Python scalar takes part, so nothing is computed in double). numpy's reductions
 * propagate NaN and {@code argmax} picks the first of equal (or NaN) values; both are reproduced.
 * Where gguf-py converts a float32 to (u)int8, numpy on x86-64 truncates to a 32-bit integer
 * (NaN, infinities and out-of-range values give {@code 0x80000000}) and keeps the low byte;
 * {@link #lowByte(float)} does the same, so even overflowing blocks match.
 */
final class LegacyQuantBlocks {
    private static final int QK = 32;

    private LegacyQuantBlocks() {}

    /** Q8_0: {@code d = max|x| / 127}, {@code q = round-half-away(x / d)}; layout d, qs[32]. */
    static void q8_0(float[] x, int off, byte[] out) {
        float amax = Math.abs(x[off]);
        for (int i = 1; i < QK; i++) {
            amax = npMax(amax, Math.abs(x[off + i]));
        }
        float d = amax / 127f;
        float id = d == 0f ? 0f : 1f / d;
        putHalf(out, 0, d);
        for (int i = 0; i < QK; i++) {
            out[2 + i] = (byte) lowByte(roundHalfAway(x[off + i] * id));
        }
    }

    /** Q4_0: {@code d = x[argmax|x|] / -8}, {@code q = min(15, trunc(x/d + 8.5))}; layout d, qs[16]. */
    static void q4_0(float[] x, int off, byte[] out) {
        float d = x[off + argmaxAbs(x, off)] / -8f;
        float id = d == 0f ? 0f : 1f / d;
        putHalf(out, 0, d);
        for (int j = 0; j < QK / 2; j++) {
            int lo = Math.min(15, lowByte(x[off + j] * id + 8.5f));
            int hi = Math.min(15, lowByte(x[off + j + QK / 2] * id + 8.5f));
            out[2 + j] = (byte) (lo | hi << 4);
        }
    }

    /** Q4_1: {@code d = (max - min) / 15}, {@code q = min(15, trunc((x - min)/d + 0.5))}; layout d, m, qs[16]. */
    static void q4_1(float[] x, int off, byte[] out) {
        float max = x[off];
        float min = x[off];
        for (int i = 1; i < QK; i++) {
            max = npMax(max, x[off + i]);
            min = npMin(min, x[off + i]);
        }
        float d = (max - min) / 15f;
        float id = d == 0f ? 0f : 1f / d;
        putHalf(out, 0, d);
        putHalf(out, 2, min);
        for (int j = 0; j < QK / 2; j++) {
            int lo = Math.min(15, lowByte((x[off + j] - min) * id + 0.5f));
            int hi = Math.min(15, lowByte((x[off + j + QK / 2] - min) * id + 0.5f));
            out[4 + j] = (byte) (lo | hi << 4);
        }
    }

    /** Q5_0: like Q4_0 with {@code -16} and 5-bit codes; layout d, qh (bit i = bit 4 of q[i]), qs[16]. */
    static void q5_0(float[] x, int off, byte[] out) {
        float d = x[off + argmaxAbs(x, off)] / -16f;
        float id = d == 0f ? 0f : 1f / d;
        putHalf(out, 0, d);
        int qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int lo = Math.min(31, lowByte(x[off + j] * id + 16.5f));
            int hi = Math.min(31, lowByte(x[off + j + QK / 2] * id + 16.5f));
            qh |= (lo >>> 4) << j | (hi >>> 4) << (j + QK / 2);
            out[6 + j] = (byte) ((lo & 0xF) | hi << 4);
        }
        putInt(out, 2, qh);
    }

    /** Q5_1: like Q4_1 with {@code / 31} and 5-bit codes; layout d, m, qh, qs[16]. */
    static void q5_1(float[] x, int off, byte[] out) {
        float max = x[off];
        float min = x[off];
        for (int i = 1; i < QK; i++) {
            max = npMax(max, x[off + i]);
            min = npMin(min, x[off + i]);
        }
        float d = (max - min) / 31f;
        float id = d == 0f ? 0f : 1f / d;
        putHalf(out, 0, d);
        putHalf(out, 2, min);
        int qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int lo = Math.min(31, lowByte((x[off + j] - min) * id + 0.5f));
            int hi = Math.min(31, lowByte((x[off + j + QK / 2] - min) * id + 0.5f));
            qh |= (lo >>> 4) << j | (hi >>> 4) << (j + QK / 2);
            out[8 + j] = (byte) ((lo & 0xF) | hi << 4);
        }
        putInt(out, 4, qh);
    }

    /**
     * The low byte (0..255) of numpy's x86-64 float32 to int8/uint8 cast: truncation toward zero
     * through a 32-bit integer, where NaN and values outside the int32 range become
     * {@code 0x80000000} (low byte 0).
     */
    static int lowByte(float v) {
        if (v >= -0x1p31f && v < 0x1p31f) { // false for NaN
            return (int) v & 0xFF;
        }
        return 0;
    }

    /**
     * gguf-py's round-half-away-from-zero, {@code sign(v) * (floor|v| + floor(2 (|v| - floor|v|)))},
     * step by step so that infinities and NaN give the same NaN numpy gets.
     */
    static float roundHalfAway(float v) {
        float a = Math.abs(v);
        float floored = (float) Math.floor(a);
        float b = floored + (float) Math.floor(2f * (a - floored));
        return Math.signum(v) * b;
    }

    /** Index of the first element with the largest magnitude, or of the first NaN (numpy argmax). */
    private static int argmaxAbs(float[] x, int off) {
        int best = 0;
        float bestAbs = Math.abs(x[off]);
        if (Float.isNaN(bestAbs)) {
            return 0;
        }
        for (int i = 1; i < QK; i++) {
            float a = Math.abs(x[off + i]);
            if (Float.isNaN(a)) {
                return i;
            }
            if (a > bestAbs) {
                best = i;
                bestAbs = a;
            }
        }
        return best;
    }

    /** numpy's max of two float32: NaN wins; otherwise the later value only if strictly greater. */
    private static float npMax(float acc, float v) {
        return v > acc || Float.isNaN(v) ? v : acc;
    }

    /** numpy's min of two float32: NaN wins; otherwise the later value only if strictly smaller. */
    private static float npMin(float acc, float v) {
        return v < acc || Float.isNaN(v) ? v : acc;
    }

    private static void putHalf(byte[] out, int i, float v) {
        short h = Float16.fromFloat(v);
        out[i] = (byte) h;
        out[i + 1] = (byte) (h >> 8);
    }

    private static void putInt(byte[] out, int i, int v) {
        out[i] = (byte) v;
        out[i + 1] = (byte) (v >> 8);
        out[i + 2] = (byte) (v >> 16);
        out[i + 3] = (byte) (v >> 24);
    }
}
