package io.github.flux4j.gguf.quant;

import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Converts GGML tensor data to float32 in pure Java.
 *
 * <p>Results are bit-identical to gguf-py's {@code gguf.quants.dequantize}: every format repeats
 * numpy's float32 operations in numpy's order, and Java float arithmetic rounds each operation
 * (it never fuses a multiply-add). Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS.
 *
 * <p>Source bytes are always read as little-endian, whatever the buffer's byte order, and the
 * source buffer's position, limit and order are never changed except by the streaming method,
 * which advances positions by design. Blocks are bulk-copied out of the buffer into a per-thread
 * scratch array of a few KiB and decoded from there, which is far faster than per-byte reads of
 * a memory-mapped buffer (writable heap buffers are decoded straight from their backing array).
 * All methods are thread-safe; each call runs on the calling thread only.
 */
public final class Dequantizer {
    /** Largest float[] the convenience method allocates (the VM's practical array limit). */
    static final int MAX_ARRAY_ELEMENTS = Integer.MAX_VALUE - 8;

    /**
     * Scratch budget: output floats and source bytes per chunk. Small chunks keep the copied
     * blocks in L1 while they are decoded; measured fastest around 1-2 Ki elements.
     */
    private static final int CHUNK_ELEMENTS = 1024;

    private static final int CHUNK_BYTES = 4 * 1024;

    private static final BlockDecoder[] DECODERS = new BlockDecoder[GgmlType.values().length];

    static {
        register(GgmlType.F32, new PlainDecoders.F32());
        register(GgmlType.F16, new PlainDecoders.F16());
        register(GgmlType.BF16, new PlainDecoders.BF16());
        register(GgmlType.Q4_0, new Q4_0Decoder());
        register(GgmlType.Q4_1, new Q4_1Decoder());
        register(GgmlType.Q5_0, new Q5_0Decoder());
        register(GgmlType.Q5_1, new Q5_1Decoder());
        register(GgmlType.Q8_0, new Q8_0Decoder());
        register(GgmlType.Q2_K, new Q2_KDecoder());
        register(GgmlType.Q3_K, new Q3_KDecoder());
        register(GgmlType.Q4_K, new Q4_KDecoder());
        register(GgmlType.Q5_K, new Q5_KDecoder());
        register(GgmlType.Q6_K, new Q6_KDecoder());
        register(GgmlType.IQ4_NL, new IQ4_NLDecoder());
        register(GgmlType.IQ4_XS, new IQ4_XSDecoder());
    }

    /** Per-thread buffers, so that repeated small calls (row by row) allocate nothing. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Dequantizer() {}

    /** True if {@code type} can be dequantized by this class. */
    public static boolean isSupported(GgmlType type) {
        Objects.requireNonNull(type, "type");
        return DECODERS[type.ordinal()] != null;
    }

    /**
     * Dequantizes {@code elements} values stored at absolute index {@code srcOffset} of
     * {@code src} ({@code type.byteSize(elements)} bytes) into {@code dst[dstOffset ..]}.
     *
     * @param type the GGML type of the source data
     * @param src source bytes; read little-endian at absolute indices, its position is ignored
     *     and not changed
     * @param srcOffset absolute byte index of the first block in {@code src}
     * @param dst destination array
     * @param dstOffset index in {@code dst} of the first output value
     * @param elements number of values, a multiple of {@code type.blockSize()}
     * @throws UnsupportedGgufTypeException if {@code type} is not supported
     * @throws IllegalArgumentException if {@code elements} is negative or not a whole number of
     *     blocks, or a range falls outside {@code src} (up to its limit) or {@code dst}
     */
    public static void dequantize(
            GgmlType type, ByteBuffer src, int srcOffset, float[] dst, int dstOffset, int elements) {
        BlockDecoder decoder = decoder(type, null);
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(dst, "dst");
        int bytes = checkedByteSize(type, elements, null);
        checkRange("src", srcOffset, bytes, src.limit(), "bytes", null);
        checkRange("dst", dstOffset, elements, dst.length, "floats", null);
        decodeToArray(type, decoder, src, srcOffset, dst, dstOffset, elements / type.blockSize());
    }

    /**
     * Dequantizes a whole tensor into a new array: {@code elements} values read from
     * {@code src}'s position on ({@code src}'s position is not changed). Exceptions name the
     * tensor.
     *
     * @param type the tensor's GGML type
     * @param src the tensor's bytes, for example {@code GgufFile.tensorData(info)}; at least
     *     {@code type.byteSize(elements)} must remain
     * @param tensorName the tensor's name, used in exception messages
     * @param elements the tensor's element count
     * @return a new array of {@code elements} floats
     * @throws UnsupportedGgufTypeException if {@code type} is not supported
     * @throws IllegalArgumentException if {@code elements} is negative, not a whole number of
     *     blocks, larger than a Java array can hold (use
     *     {@link #dequantize(GgmlType, ByteBuffer, FloatBuffer, int, String)} on slices instead), or
     *     more bytes are needed than {@code src} has remaining
     */
    public static float[] dequantize(GgmlType type, ByteBuffer src, String tensorName, long elements) {
        Objects.requireNonNull(tensorName, "tensorName");
        BlockDecoder decoder = decoder(type, tensorName);
        Objects.requireNonNull(src, "src");
        if (elements > MAX_ARRAY_ELEMENTS) {
            throw new IllegalArgumentException(prefix(tensorName) + elements
                    + " elements do not fit in a Java array (at most " + MAX_ARRAY_ELEMENTS
                    + "); dequantize it in slices into a FloatBuffer instead");
        }
        int bytes = checkedByteSize(type, elements, tensorName);
        int n = (int) elements;
        if (bytes > src.remaining()) {
            throw new IllegalArgumentException(prefix(tensorName) + elements + " " + type + " elements need " + bytes
                    + " bytes but src has " + src.remaining() + " remaining");
        }
        float[] out = new float[n];
        decodeToArray(type, decoder, src, src.position(), out, 0, n / type.blockSize());
        return out;
    }

    /**
     * Streaming form: dequantizes {@code elements} values from {@code src}'s position into
     * {@code dst}'s position and advances both positions past what was read and written.
     *
     * <p>Use it for tensors too large for one float array, or to fill native memory (a direct
     * {@code FloatBuffer} handed to LibTorch) without a heap copy of the whole tensor: call it
     * repeatedly with consecutive ranges of whole blocks (for example a few rows at a time, or
     * successive slices of a mapping), each call continuing where the previous one stopped. Memory
     * use stays bounded: data passes through per-thread scratch arrays of a few KiB, and a
     * heap-backed {@code dst} is written directly. Nothing is written if an argument is invalid.
     *
     * @param type the GGML type of the source data
     * @param src source bytes, read little-endian from its position; at least
     *     {@code type.byteSize(elements)} must remain
     * @param dst destination, writable, with at least {@code elements} floats remaining
     * @param elements number of values, a multiple of {@code type.blockSize()}
     * @param tensorName the tensor's name for exception messages, or null
     * @throws UnsupportedGgufTypeException if {@code type} is not supported
     * @throws IllegalArgumentException if {@code elements} is negative or not a whole number of
     *     blocks, {@code src} or {@code dst} has too little remaining, or {@code dst} is read-only
     */
    public static void dequantize(
            GgmlType type, ByteBuffer src, FloatBuffer dst, int elements, @Nullable String tensorName) {
        BlockDecoder decoder = decoder(type, tensorName);
        Objects.requireNonNull(src, "src");
        Objects.requireNonNull(dst, "dst");
        int bytes = checkedByteSize(type, elements, tensorName);
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException(prefix(tensorName) + "dst is read-only");
        }
        if (bytes > src.remaining()) {
            throw new IllegalArgumentException(prefix(tensorName) + elements + " " + type + " elements need " + bytes
                    + " bytes but src has " + src.remaining() + " remaining");
        }
        if (elements > dst.remaining()) {
            throw new IllegalArgumentException(prefix(tensorName) + elements + " elements do not fit in dst's "
                    + dst.remaining() + " remaining floats");
        }
        int blocks = elements / type.blockSize();
        int srcPos = src.position();
        int dstPos = dst.position();
        if (dst.hasArray()) {
            decodeToArray(type, decoder, src, srcPos, dst.array(), dst.arrayOffset() + dstPos, blocks);
        } else {
            decodeToBuffer(type, decoder, src, srcPos, dst, dstPos, blocks);
        }
        src.position(srcPos + bytes);
        dst.position(dstPos + elements);
    }

    private static void register(GgmlType type, BlockDecoder decoder) {
        DECODERS[type.ordinal()] = decoder;
    }

    private static BlockDecoder decoder(GgmlType type, @Nullable String tensorName) {
        Objects.requireNonNull(type, "type");
        BlockDecoder decoder = DECODERS[type.ordinal()];
        if (decoder == null) {
            throw new UnsupportedGgufTypeException(type, tensorName, "dequantization");
        }
        return decoder;
    }

    /** Blocks decoded per chunk: bounded both in output floats and in source bytes. */
    private static int chunkBlocks(GgmlType type) {
        return Math.max(1, Math.min(CHUNK_ELEMENTS / type.blockSize(), CHUNK_BYTES / type.typeSize()));
    }

    private static void decodeToArray(
            GgmlType type, BlockDecoder decoder, ByteBuffer src, int srcIndex, float[] dst, int dstIndex, int blocks) {
        if (src.hasArray()) {
            // Heap buffer: decode straight from its backing array, no copy needed.
            decoder.decode(src.array(), src.arrayOffset() + srcIndex, dst, dstIndex, blocks);
            return;
        }
        byte[] scratch = SCRATCH.get().bytes;
        int chunk = chunkBlocks(type);
        int typeSize = type.typeSize();
        int blockSize = type.blockSize();
        for (int done = 0; done < blocks; ) {
            int n = Math.min(chunk, blocks - done);
            src.get(srcIndex + done * typeSize, scratch, 0, n * typeSize);
            decoder.decode(scratch, 0, dst, dstIndex + done * blockSize, n);
            done += n;
        }
    }

    private static void decodeToBuffer(
            GgmlType type,
            BlockDecoder decoder,
            ByteBuffer src,
            int srcIndex,
            FloatBuffer dst,
            int dstIndex,
            int blocks) {
        Scratch scratch = SCRATCH.get();
        float[] floats = scratch.floats();
        int chunk = chunkBlocks(type);
        int typeSize = type.typeSize();
        int blockSize = type.blockSize();
        for (int done = 0; done < blocks; ) {
            int n = Math.min(chunk, blocks - done);
            if (src.hasArray()) {
                decoder.decode(src.array(), src.arrayOffset() + srcIndex + done * typeSize, floats, 0, n);
            } else {
                src.get(srcIndex + done * typeSize, scratch.bytes, 0, n * typeSize);
                decoder.decode(scratch.bytes, 0, floats, 0, n);
            }
            dst.put(dstIndex + done * blockSize, floats, 0, n * blockSize);
            done += n;
        }
    }

    /**
     * {@code type.byteSize(elements)} as an int, or an IllegalArgumentException naming the tensor
     * (a range of a ByteBuffer is always int-sized).
     */
    private static int checkedByteSize(GgmlType type, long elements, @Nullable String tensorName) {
        if (elements < 0) {
            throw new IllegalArgumentException(prefix(tensorName) + "elements must not be negative: " + elements);
        }
        if (elements % type.blockSize() != 0) {
            throw new IllegalArgumentException(prefix(tensorName) + "elements (" + elements + ") is not a multiple of "
                    + type + "'s block size " + type.blockSize());
        }
        long bytes = type.byteSize(elements);
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(prefix(tensorName) + elements + " " + type + " elements occupy " + bytes
                    + " bytes, more than one ByteBuffer can hold");
        }
        return (int) bytes;
    }

    private static void checkRange(
            String what, int offset, int length, int capacity, String unit, @Nullable String tensorName) {
        if (offset < 0 || (long) offset + length > capacity) {
            throw new IllegalArgumentException(prefix(tensorName) + what + " range [" + offset + ", "
                    + ((long) offset + length) + ") of " + unit + " is outside " + what + "'s " + capacity);
        }
    }

    private static String prefix(@Nullable String tensorName) {
        return tensorName == null ? "" : "tensor '" + tensorName + "': ";
    }

    /** Per-thread scratch: source bytes always, output floats only for the FloatBuffer path. */
    private static final class Scratch {
        final byte[] bytes = new byte[CHUNK_BYTES];
        private float @Nullable [] floats;

        float[] floats() {
            float[] f = floats;
            if (f == null) {
                f = new float[CHUNK_ELEMENTS];
                floats = f;
            }
            return f;
        }
    }
}
