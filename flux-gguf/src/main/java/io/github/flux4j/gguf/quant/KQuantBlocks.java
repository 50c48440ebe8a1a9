package io.github.flux4j.gguf.quant;

import java.util.Arrays;

/**
 * One-super-block quantizers for Q2_K..Q6_K, following ggml's scalar reference quantizers
 * ({@code quantize_row_qX_K_ref}, no importance weights).
 *
 * <p>The algorithms search, per 16- or 32-element sub-block, for the scale (and for the
 * asymmetric formats the minimum) that minimises a weighted squared or absolute error, then
 * quantize the sub-block scales themselves to 4, 6 or 8 bits against one float16 super-block
 * scale, and finally re-round every element against the scale it will really be decoded with.
 * Each float32 operation is done in ggml's order so that, on finite inputs, the bytes equal
 * those of ggml built without fused multiply-add. Non-finite inputs are outside ggml's contract
 * (its rounding helper asserts) and give unspecified, but deterministic, bytes here.
 *
 * <p>An instance holds scratch arrays and is used by one thread at a time.
 */
final class KQuantBlocks {
    /** Elements per super-block. */
    static final int QK_K = 256;

    /** Below this, a group counts as all zero (ggml's GROUP_MAX_EPS). */
    private static final float GROUP_MAX_EPS = 1e-15f;

    /** Quantized levels of the whole super-block (one byte-sized level per element). */
    private final int[] levels = new int[QK_K];
    /** Candidate levels of one sub-block during the scale search. */
    private final int[] candidate = new int[32];

    private final float[] weights = new float[32];
    private final float[] scales = new float[16];
    private final float[] mins = new float[16];
    private final byte[] packedScales = new byte[16];

    // ---------------------------------------------------------------------------------------------
    // Q2_K: 16 sub-blocks of 16, 2-bit levels, 4-bit scale and 4-bit min per sub-block.
    // Layout: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.

    void q2K(float[] x, int off, byte[] out) {
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) {
                weights[l] = Math.abs(x[off + 16 * j + l]);
            }
            scales[j] = fitScaleAndMin(16, 3, x, off + 16 * j, 16 * j, -0.5f, 0.1f, 15, true, j);
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        short d;
        short dmin;
        if (maxScale > 0) {
            float iscale = 15f / maxScale;
            for (int j = 0; j < 16; j++) {
                out[j] = (byte) nearestInt(iscale * scales[j]);
            }
            d = Float16.fromFloat(maxScale / 15f);
        } else {
            for (int j = 0; j < 16; j++) {
                out[j] = 0;
            }
            d = Float16.fromFloat(0f);
        }
        if (maxMin > 0) {
            float iscale = 15f / maxMin;
            for (int j = 0; j < 16; j++) {
                out[j] |= (byte) (nearestInt(iscale * mins[j]) << 4);
            }
            dmin = Float16.fromFloat(maxMin / 15f);
        } else {
            dmin = Float16.fromFloat(0f);
        }
        float dScale = Float16.toFloat(d);
        float dMin = Float16.toFloat(dmin);
        for (int j = 0; j < 16; j++) {
            float dj = dScale * (out[j] & 0xF);
            if (dj == 0f) {
                continue; // keeps the levels of the scale search, as ggml does
            }
            float mj = dMin * ((out[j] & 0xFF) >>> 4);
            for (int i = 0; i < 16; i++) {
                int l = nearestInt((x[off + 16 * j + i] + mj) / dj);
                levels[16 * j + i] = Math.max(0, Math.min(3, l));
            }
        }
        pack2Bit(out, 16);
        putShort(out, 80, d);
        putShort(out, 82, dmin);
    }

    // ---------------------------------------------------------------------------------------------
    // Q3_K: 16 sub-blocks of 16, 3-bit signed levels, 6-bit signed scales, no min.
    // Layout: hmask[32] (bit 2 of the level), qs[64] (low 2 bits), scales[12], d.

    void q3K(float[] x, int off, byte[] out) {
        float maxScale = 0;
        float amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fitSymmetric3(x, off + 16 * j, 16 * j);
            float a = Math.abs(scales[j]);
            if (a > amax) {
                amax = a;
                maxScale = scales[j];
            }
        }
        for (int i = 96; i < 108; i++) {
            out[i] = 0;
        }
        short d;
        if (maxScale != 0f) { // NaN counts as set, like C's if (max_scale)
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++) {
                int l = (byte) nearestInt(iscale * scales[j]); // ggml keeps it in an int8_t
                l = Math.max(-32, Math.min(31, l)) + 32;
                if (j < 8) {
                    out[96 + j] = (byte) (l & 0xF);
                } else {
                    out[96 + j - 8] |= (byte) ((l & 0xF) << 4);
                }
                out[96 + 8 + j % 4] |= (byte) ((l >> 4) << (2 * (j / 4)));
            }
            d = Float16.fromFloat(1 / iscale);
        } else {
            d = Float16.fromFloat(0f);
        }
        float dAll = Float16.toFloat(d);
        for (int j = 0; j < 16; j++) {
            int low = j < 8 ? out[96 + j] & 0xF : (out[96 + j - 8] & 0xFF) >>> 4;
            int sc = (low | (((out[96 + 8 + j % 4] & 0xFF) >>> (2 * (j / 4))) & 3) << 4) - 32;
            float dj = dAll * sc;
            if (dj == 0f) {
                continue;
            }
            for (int i = 0; i < 16; i++) {
                int l = nearestInt(x[off + 16 * j + i] / dj);
                levels[16 * j + i] = Math.max(-4, Math.min(3, l)) + 4;
            }
        }
        // Bit 2 of level j goes to hmask[j % 32], bit j / 32; the low two bits stay for qs.
        for (int i = 0; i < 32; i++) {
            out[i] = 0;
        }
        for (int j = 0; j < QK_K; j++) {
            if (levels[j] > 3) {
                out[j % 32] |= (byte) (1 << (j / 32));
                levels[j] -= 4;
            }
        }
        pack2Bit(out, 32);
        putShort(out, 108, d);
    }

    // ---------------------------------------------------------------------------------------------
    // Q4_K / Q5_K: 8 sub-blocks of 32, 4/5-bit levels, 6-bit scale and 6-bit min per sub-block.
    // Layout: d, dmin, scales[12], [qh[32] for Q5_K], qs[128].

    void q4K(float[] x, int off, byte[] out) {
        scaleMin6Bit(x, off, out, 15, -1f, 0.1f, 20);
        for (int j = 0; j < QK_K; j += 64) {
            for (int l = 0; l < 32; l++) {
                out[16 + j / 2 + l] = (byte) (levels[j + l] | levels[j + l + 32] << 4);
            }
        }
    }

    void q5K(float[] x, int off, byte[] out) {
        scaleMin6Bit(x, off, out, 31, -0.5f, 0.1f, 15);
        for (int i = 16; i < 48; i++) {
            out[i] = 0;
        }
        // Chunk c of 64 levels: bit 4 of its first 32 go to qh bit 2c, of its second 32 to bit 2c+1.
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                int l1 = levels[64 * c + l];
                int l2 = levels[64 * c + l + 32];
                out[16 + l] |= (byte) ((l1 >>> 4) << (2 * c) | (l2 >>> 4) << (2 * c + 1));
                out[48 + 32 * c + l] = (byte) ((l1 & 0xF) | (l2 & 0xF) << 4);
            }
        }
    }

    /**
     * The shared part of Q4_K and Q5_K: searches each sub-block's scale and min, stores d, dmin and
     * the 12 packed scale bytes at out[0..16), and leaves the final levels (0..nmax) in
     * {@link #levels}.
     */
    private void scaleMin6Bit(float[] x, int off, byte[] out, int nmax, float rmin, float rdelta, int nstep) {
        float maxScale = 0;
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            int s = off + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) {
                sumX2 += x[s + l] * x[s + l];
            }
            // sqrt of a float through double is correctly rounded, i.e. equal to sqrtf.
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) {
                weights[l] = avX + Math.abs(x[s + l]);
            }
            scales[j] = fitScaleAndMin(32, nmax, x, s, 32 * j, rmin, rdelta, nstep, false, j);
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++) {
            // ggml stores these in uint8_t before clamping, hence the & 0xFF.
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                out[4 + j] = (byte) ls;
                out[4 + j + 4] = (byte) lm;
            } else {
                out[4 + j + 4] = (byte) ((ls & 0xF) | (lm & 0xF) << 4);
                out[4 + j - 4] |= (byte) ((ls >> 4) << 6);
                out[4 + j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short d = Float16.fromFloat(maxScale / 63f);
        short dmin = Float16.fromFloat(maxMin / 63f);
        putShort(out, 0, d);
        putShort(out, 2, dmin);
        float dAll = Float16.toFloat(d);
        float mAll = Float16.toFloat(dmin);
        for (int j = 0; j < 8; j++) {
            int sc;
            int m;
            if (j < 4) {
                sc = out[4 + j] & 63;
                m = out[4 + j + 4] & 63;
            } else {
                sc = (out[4 + j + 4] & 0xF) | ((out[4 + j - 4] & 0xFF) >>> 6) << 4;
                m = ((out[4 + j + 4] & 0xFF) >>> 4) | ((out[4 + j] & 0xFF) >>> 6) << 4;
            }
            float dj = dAll * sc;
            if (dj == 0f) {
                continue;
            }
            float mj = mAll * m;
            for (int i = 0; i < 32; i++) {
                int l = nearestInt((x[off + 32 * j + i] + mj) / dj);
                levels[32 * j + i] = Math.max(0, Math.min(nmax, l));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Q6_K: 16 sub-blocks of 16, 6-bit signed levels, 8-bit signed scales.
    // Layout: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16], d.

    void q6K(float[] x, int off, byte[] out) {
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int j = 0; j < 16; j++) {
            float scale = fitSymmetric6(x, off + 16 * j, 16 * j);
            scales[j] = scale;
            float a = Math.abs(scale);
            if (a > maxAbsScale) {
                maxAbsScale = a;
                maxScale = scale;
            }
        }
        if (maxAbsScale < GROUP_MAX_EPS) {
            java.util.Arrays.fill(out, 0, 210, (byte) 0);
            return;
        }
        float iscale = -128f / maxScale;
        short d = Float16.fromFloat(1 / iscale);
        for (int j = 0; j < 16; j++) {
            packedScales[j] = (byte) Math.min(127, nearestInt(iscale * scales[j]));
        }
        float dAll = Float16.toFloat(d);
        for (int j = 0; j < 16; j++) {
            float dj = dAll * packedScales[j];
            if (dj == 0f) {
                continue;
            }
            for (int i = 0; i < 16; i++) {
                int l = nearestInt(x[off + 16 * j + i] / dj);
                levels[16 * j + i] = Math.max(-32, Math.min(31, l)) + 32;
            }
        }
        for (int half = 0; half < 2; half++) {
            int lv = 128 * half;
            int ql = 64 * half;
            int qh = 128 + 32 * half;
            for (int l = 0; l < 32; l++) {
                int q1 = levels[lv + l];
                int q2 = levels[lv + l + 32];
                int q3 = levels[lv + l + 64];
                int q4 = levels[lv + l + 96];
                out[ql + l] = (byte) ((q1 & 0xF) | (q3 & 0xF) << 4);
                out[ql + l + 32] = (byte) ((q2 & 0xF) | (q4 & 0xF) << 4);
                out[qh + l] = (byte) ((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
        }
        System.arraycopy(packedScales, 0, out, 192, 16);
        putShort(out, 208, d);
    }

    // ---------------------------------------------------------------------------------------------
    // Sub-block fits.

    /**
     * Asymmetric fit of {@code n} values {@code x[xo..]} to levels 0..nmax with
     * {@code x ~ scale * level - min} (ggml's make_qkx2_quants), weighted by {@link #weights}.
     * Starts from the plain min/max grid, then tries {@code nstep + 1} slightly different grid
     * densities, solving the weighted least squares for scale and min each time, and keeps the
     * fit with the smallest weighted squared (or, with {@code useMad}, absolute) error. Writes
     * levels to {@code levels[lo..]}, the min (as a positive offset) to {@code mins[slot]}, and
     * returns the scale.
     */
    private float fitScaleAndMin(
            int n, int nmax, float[] x, int xo, int lo, float rmin, float rdelta, int nstep, boolean useMad, int slot) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float v = x[xo + i];
            if (v < min) {
                min = v;
            }
            if (v > max) {
                max = v;
            }
            float w = weights[i];
            sumW += w;
            sumX += w * v;
        }
        // The min is an offset that is subtracted: a block of positive values keeps min 0.
        if (min > 0) {
            min = 0;
        }
        if (max == min) {
            for (int i = 0; i < n; i++) {
                levels[lo + i] = 0;
            }
            mins[slot] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
            levels[lo + i] = l;
            float diff = scale * l + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            mins[slot] = -min;
            return scale;
        }
        for (int step = 0; step <= nstep; step++) {
            // min and scale may have been replaced by an earlier step; ggml uses the current ones.
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                candidate[i] = l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * candidate[i] + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(candidate, 0, levels, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        mins[slot] = -min;
        return scale;
    }

    /**
     * The value of largest magnitude among {@code x[xo .. xo+n)} (the first one on a tie, as
     * ggml's loops keep it), 0 for an all-zero group. Symmetric fits scale through it, sign
     * included.
     */
    private static float maxByMagnitude(float[] x, int xo, int n) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        return max;
    }

    /**
     * Symmetric fit of 16 values to levels -4..3 for Q3_K (ggml's make_q3_quants with rmse):
     * starts from the grid through the largest magnitude, then, up to five passes, moves single
     * levels whenever that raises the x^2-weighted correlation {@code sum(w x l)^2 / sum(w l^2)}.
     * Writes levels + 4 to {@code levels[lo..]} (0 for an all-zero group) and returns the scale.
     */
    private float fitSymmetric3(float[] x, int xo, int lo) {
        final int n = 16;
        final int nmax = 4;
        float max = maxByMagnitude(x, xo, n);
        if (Math.abs(max) < GROUP_MAX_EPS) {
            Arrays.fill(levels, lo, lo + n, 0);
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0;
        float sumL2 = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
            levels[lo + i] = l;
            float w = v * v;
            sumLX += w * v * l;
            sumL2 += w * l * l;
        }
        for (int pass = 0; pass < 5; pass++) {
            int changed = 0;
            for (int i = 0; i < n; i++) {
                float v = x[xo + i];
                int old = levels[lo + i];
                float w = v * v;
                float slx = sumLX - w * v * old;
                if (slx > 0) {
                    float sl2 = sumL2 - w * old * old;
                    int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(v * sl2 / slx)));
                    if (l != old) {
                        slx += w * v * l;
                        sl2 += w * l * l;
                        if (sl2 > 0 && slx * slx * sumL2 > sumLX * sumLX * sl2) {
                            levels[lo + i] = l;
                            sumLX = slx;
                            sumL2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) {
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            levels[lo + i] += nmax;
        }
        return sumL2 > 0f ? sumLX / sumL2 : 0f;
    }

    /**
     * Symmetric fit of 16 values to levels -32..31 for Q6_K (ggml's make_qx_quants, x^2 weights):
     * the grid through the largest magnitude, then 18 slightly denser or sparser grids, keeping
     * the one with the best least-squares scale. Writes levels + 32 to {@code levels[lo..]}
     * (0 for an all-zero group) and returns the scale.
     */
    private float fitSymmetric6(float[] x, int xo, int lo) {
        final int n = 16;
        final int nmax = 32;
        float max = maxByMagnitude(x, xo, n);
        if (Math.abs(max) < GROUP_MAX_EPS) {
            Arrays.fill(levels, lo, lo + n, 0);
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0;
        float sumL2 = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
            levels[lo + i] = l + nmax;
            float w = v * v;
            sumLX += w * v * l;
            sumL2 += w * l * l;
        }
        // C's "suml2 ? a : b": NaN counts as non-zero.
        float scale = sumL2 != 0f ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumLX = 0;
            sumL2 = 0;
            for (int i = 0; i < n; i++) {
                float v = x[xo + i];
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
                float w = v * v;
                sumLX += w * v * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) {
                    int l = nearestInt(iscale * x[xo + i]);
                    levels[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
                }
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers.

    /**
     * Rounds to the nearest integer, ties to even, the way ggml does: adding 1.5 * 2^23 pushes the
     * integer part into the low mantissa bits (valid for |v| below 2^22).
     */
    static int nearestInt(float v) {
        int bits = Float.floatToRawIntBits(v + 12582912f);
        return (bits & 0x007F_FFFF) - 0x0040_0000;
    }

    /** Packs levels 0..3 four to a byte from out[at]: byte l of each 128-level half holds l, l+32, l+64, l+96. */
    private void pack2Bit(byte[] out, int at) {
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; l++) {
                out[at + j / 4 + l] = (byte)
                        (levels[j + l] | levels[j + l + 32] << 2 | levels[j + l + 64] << 4 | levels[j + l + 96] << 6);
            }
        }
    }

    private static void putShort(byte[] out, int i, short v) {
        out[i] = (byte) v;
        out[i + 1] = (byte) (v >> 8);
    }
}
