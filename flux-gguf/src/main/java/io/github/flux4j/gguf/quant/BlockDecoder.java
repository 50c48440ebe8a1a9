package io.github.flux4j.gguf.quant;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Decodes whole blocks of one GGML format from a byte array into float32.
 *
 * <p>Implementations work on plain arrays because {@link Dequantizer} bulk-copies blocks out of
 * (usually memory-mapped) buffers first: array loads are much cheaper than per-byte buffer reads.
 * Every implementation reproduces gguf-py's numpy expression order exactly, one float32 rounding
 * per numpy operation, so results are bit-identical. Callers validate ranges.
 */
abstract class BlockDecoder {
    // Array views compile to single (unaligned) loads: cheaper than assembling bytes.
    private static final VarHandle SHORT_LE =
            MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * Decodes {@code blocks} consecutive blocks starting at {@code src[srcOff]} into
     * {@code dst[dstOff ..]}.
     */
    abstract void decode(byte[] src, int srcOff, float[] dst, int dstOff, int blocks);

    /** The float16 stored little-endian at {@code b[i]}, as float32 (exact). */
    static float f16(byte[] b, int i) {
        return Float16.toFloat((short) SHORT_LE.get(b, i));
    }

    /** The 16-bit little-endian integer at {@code b[i]}, sign-extended. */
    static int int16(byte[] b, int i) {
        return (short) SHORT_LE.get(b, i);
    }

    /** The 32-bit little-endian integer at {@code b[i]}. */
    static int int32(byte[] b, int i) {
        return (int) INT_LE.get(b, i);
    }
}
