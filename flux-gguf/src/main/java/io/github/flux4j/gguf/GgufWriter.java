package io.github.flux4j.gguf;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.gguf.quant.Quantizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes GGUF v3 files (little-endian): metadata, tensor infos and tensor data, laid out as
 * ggml's {@code docs/gguf.md} prescribes.
 *
 * <pre>{@code
 * GgufWriter w = GgufWriter.create();
 * w.put("general.architecture", GgufValue.of("flux"));
 * w.addTensor("img_in.weight", GgmlType.Q8_0, new long[] {3072, 64}, out -> copyRows(out));
 * w.write(Path.of("flux1-dev-Q8_0.gguf"));
 * }</pre>
 *
 * <p>The writer collects a description of the file; nothing touches the disk before the single
 * terminal call {@link #write(Path)}. Tensor data is pulled from {@link TensorSource}s while the
 * file is written, one tensor at a time, so that a model larger than the heap can be converted.
 * {@code write} goes to a temporary file next to the target and moves it into place atomically
 * only once everything succeeded: the target is either the complete new file or left as it was,
 * and no temporary file is left behind on failure.
 *
 * <h2>Layout</h2>
 * Metadata entries and tensors are written in insertion order. The alignment is the
 * {@code general.alignment} entry if the caller put one (a UINT32 power of two), else 32; the
 * key is not added when absent, as in gguf-py and ggml. The tensor infos are followed by zero
 * padding up to the alignment (always, even without tensors, as ggml and gguf-py do), each
 * tensor's data starts at an aligned offset relative to the data section, and each tensor's
 * data, the last one included, is followed by zero padding up to the alignment. With the same
 * entries in the same order this gives the same bytes as gguf-py's {@code GGUFWriter}.
 *
 * <h2>Validation</h2>
 * Whatever would make the file invalid, or one that {@link GgufFile} refuses, is rejected when
 * it is added, with an {@link IllegalArgumentException} naming the key or tensor:
 * <ul>
 *   <li>keys that are empty or longer than 65535 UTF-8 bytes (the spec's limit; its
 *       lower_snake_case convention is not enforced, so that metadata copied from existing files
 *       always round-trips); strings that are not valid Unicode (a lone surrogate would otherwise
 *       be written as '?'); arrays nested more than 8 levels deep; a {@code general.alignment}
 *       that is not a UINT32 power of two. Putting a key twice is not an error: the value is
 *       replaced (see {@link #put}).</li>
 *   <li>tensor names that are empty, longer than {@link #maxTensorNameBytes()} UTF-8 bytes, or
 *       already used, also once a {@code model.diffusion_model.} prefix is removed (readers
 *       remove it); shapes with fewer than 1 or more than 4 dimensions or a dimension that is not
 *       positive; an innermost dimension (row length) that is not a multiple of the type's block
 *       size.</li>
 * </ul>
 *
 * <p><b>Tensor name length.</b> The spec says 64 bytes; stock ggml refuses names of
 * {@code GGML_MAX_NAME} = 64 bytes or more, i.e. allows 63, while stable-diffusion.cpp builds ggml
 * with {@code GGML_MAX_NAME=128} and gguf-py/ComfyUI-GGUF impose no limit. The default limit is
 * {@value #DEFAULT_MAX_TENSOR_NAME_BYTES} bytes, which keeps every FLUX name, even with the
 * {@code model.diffusion_model.} prefix, loadable by stable-diffusion.cpp. Lower it to
 * {@value #GGML_MAX_TENSOR_NAME_BYTES} with {@link #maxTensorNameBytes(int)} for files meant for
 * stock ggml, or raise it up to 65535.
 *
 * <p>Instances are not thread-safe. {@code write} may be called more than once (for example to
 * retry) if every tensor source can be replayed, which the {@link ByteBuffer} and {@code float[]}
 * conveniences can.
 */
public final class GgufWriter {
    /** Alignment used when no {@code general.alignment} entry is put. */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** The key holding a non-default alignment (a UINT32 power of two). */
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** Default limit on tensor name length in UTF-8 bytes (stable-diffusion.cpp's ggml build). */
    public static final int DEFAULT_MAX_TENSOR_NAME_BYTES = 127;
    /** Longest tensor name stock ggml ({@code GGML_MAX_NAME} = 64, with the terminating NUL) loads. */
    public static final int GGML_MAX_TENSOR_NAME_BYTES = 63;
    /** Longest key (and longest tensor name allowed at all): the spec's 2^16-1 bytes. */
    public static final int MAX_KEY_BYTES = 65535;
    /** Levels of arrays (arrays of arrays of ...) our reader accepts in one value. */
    static final int MAX_ARRAY_DEPTH = 8;

    private static final int VERSION = 3;
    private static final int MAX_DIMS = 4;
    private static final int BUFFER_BYTES = 1 << 20;
    /** Quantized bytes produced per step by the {@code float[]} convenience. */
    private static final int QUANTIZE_CHUNK_BYTES = 1 << 20;

    private static final SecureRandom TEMP_NAMES = new SecureRandom();

    /**
     * Supplies one tensor's bytes while the file is being written.
     *
     * <p>{@link #writeTo} must write exactly {@code type.byteSize(elements)} bytes, in GGUF's
     * little-endian layout with the innermost dimension contiguous (row-major order of the shape
     * given to {@code addTensor}). Writing more fails at once, writing fewer fails when it
     * returns; either way the tensor is named and no file is produced. It must not close the
     * channel.
     */
    @FunctionalInterface
    public interface TensorSource {
        /** Writes the tensor's bytes to {@code out}. */
        void writeTo(WritableByteChannel out) throws IOException;
    }

    private record PendingTensor(String name, GgmlType type, long[] shape, long byteSize, TensorSource source) {}

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    /** Stored names, and names with the diffusion-model prefix removed, for clash detection. */
    private final Map<String, String> tensorNames = new HashMap<>();

    private int maxTensorNameBytes = DEFAULT_MAX_TENSOR_NAME_BYTES;

    private GgufWriter() {}

    /** A writer with no metadata and no tensors. */
    public static GgufWriter create() {
        return new GgufWriter();
    }

    /**
     * Adds a metadata entry, or replaces the value of an existing key in its original position
     * (so that a converter can copy a file's metadata and then override a few entries).
     *
     * @throws IllegalArgumentException naming the key if the key is empty or longer than 65535
     *                                  UTF-8 bytes, a string is not valid Unicode, arrays nest
     *                                  more than 8 deep, or {@code general.alignment} is not a
     *                                  UINT32 power of two
     */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value of metadata key '" + key + "'");
        if (key.isEmpty()) {
            throw new IllegalArgumentException("metadata key is empty");
        }
        int keyBytes = utf8(key, "metadata key '" + key + "'").length;
        if (keyBytes > MAX_KEY_BYTES) {
            throw new IllegalArgumentException("metadata key '" + key.substring(0, 40) + "...' is " + keyBytes
                    + " UTF-8 bytes long; GGUF allows at most " + MAX_KEY_BYTES);
        }
        checkValue(key, value, 0);
        if (key.equals(ALIGNMENT_KEY)) {
            checkAlignment(value);
        }
        metadata.put(key, value);
        return this;
    }

    /** Adds (or replaces) every entry of {@code source}, in its order; see {@link #put}. */
    public GgufWriter putAll(GgufMetadata source) {
        source.asMap().forEach(this::put);
        return this;
    }

    /** Removes a metadata entry if present (for example one copied with {@link #putAll}). */
    public GgufWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    /** The metadata entries put so far, in order (unmodifiable). */
    public Map<String, GgufValue> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** The data alignment the file will have. */
    public int alignment() {
        GgufValue v = metadata.get(ALIGNMENT_KEY);
        return v == null ? DEFAULT_ALIGNMENT : ((GgufValue.UInt32) v).bits();
    }

    /** The longest tensor name accepted, in UTF-8 bytes. */
    public int maxTensorNameBytes() {
        return maxTensorNameBytes;
    }

    /**
     * Sets the longest tensor name accepted, in UTF-8 bytes (1 to 65535); applies to tensors added
     * afterwards. See the class documentation for the limits of other GGUF consumers.
     */
    public GgufWriter maxTensorNameBytes(int bytes) {
        if (bytes < 1 || bytes > MAX_KEY_BYTES) {
            throw new IllegalArgumentException("maxTensorNameBytes must be in 1.." + MAX_KEY_BYTES + ": " + bytes);
        }
        this.maxTensorNameBytes = bytes;
        return this;
    }

    /**
     * Adds a tensor whose bytes are written by {@code source} when the file is written.
     *
     * @param name   the name stored in the file
     * @param type   its GGML type
     * @param shape  its shape in row-major (PyTorch) order, outermost first; stored reversed, as
     *               GGUF lists dimensions innermost first
     * @param source writes exactly {@code type.byteSize(product(shape))} bytes
     * @throws IllegalArgumentException naming the tensor if the name or shape is not valid for
     *                                  GGUF (see the class documentation)
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorSource source) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type of tensor '" + name + "'");
        Objects.requireNonNull(shape, "shape of tensor '" + name + "'");
        Objects.requireNonNull(source, "source of tensor '" + name + "'");
        long[] dims = shape.clone();
        long bytes = checkTensor(name, type, dims);
        claimName(name);
        tensors.add(new PendingTensor(name, type, dims, bytes, source));
        return this;
    }

    /**
     * Adds a tensor whose bytes are the remaining bytes of {@code data} (already in GGUF layout).
     * The buffer is not copied; its position and limit are not changed, and its content must not
     * change before the file is written.
     *
     * @throws IllegalArgumentException naming the tensor if {@code data.remaining()} is not the
     *                                  tensor's byte size, or the name or shape is not valid
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, ByteBuffer data) {
        Objects.requireNonNull(data, "data of tensor '" + name + "'");
        ByteBuffer view = data.duplicate();
        long expected = checkTensor(name, type, shape.clone());
        if (view.remaining() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + type + " " + Arrays.toString(shape)
                    + " takes " + expected + " bytes but the buffer holds " + view.remaining());
        }
        return addTensor(name, type, shape, out -> {
            ByteBuffer b = view.duplicate();
            while (b.hasRemaining()) {
                out.write(b);
            }
        });
    }

    /**
     * Adds a tensor given as floats in row-major order, converted to {@code targetType} with
     * {@link Quantizer} while the file is written, a chunk of blocks at a time (so that a
     * converter never holds a second copy of the tensor). The array is not copied: it must not
     * change before the file is written.
     *
     * @throws IllegalArgumentException     naming the tensor if {@code data.length} is not the
     *                                      product of the shape, or the name or shape is invalid
     * @throws UnsupportedGgufTypeException naming the tensor if {@code targetType} is not one
     *                                      {@link Quantizer#isSupported} can produce
     */
    public GgufWriter addTensor(String name, float[] data, long[] shape, GgmlType targetType) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(data, "data of tensor '" + name + "'");
        Objects.requireNonNull(targetType, "targetType of tensor '" + name + "'");
        checkTensor(name, targetType, shape.clone());
        long elements = product(shape);
        if (data.length != elements) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " has "
                    + elements + " elements but " + data.length + " floats were given");
        }
        if (!Quantizer.isSupported(targetType)) {
            throw new UnsupportedGgufTypeException(targetType, name, "quantization");
        }
        int blocksPerChunk = Math.max(1, QUANTIZE_CHUNK_BYTES / targetType.typeSize());
        int chunkElements = blocksPerChunk * targetType.blockSize();
        return addTensor(name, targetType, shape, out -> {
            ByteBuffer chunk = ByteBuffer.allocate(blocksPerChunk * targetType.typeSize());
            for (int from = 0; from < data.length; from += chunkElements) {
                // Blocks are quantized independently, so chunking gives the same bytes as a
                // single Quantizer.quantize over the whole array.
                int n = Math.min(chunkElements, data.length - from);
                Quantizer.quantize(targetType, data, from, n, chunk, 0);
                chunk.position(0).limit((int) targetType.byteSize(n));
                while (chunk.hasRemaining()) {
                    out.write(chunk);
                }
                chunk.clear();
            }
        });
    }

    /** Names of the tensors added so far, in order. */
    public List<String> tensorNames() {
        return tensors.stream().map(PendingTensor::name).toList();
    }

    /**
     * Writes the file: to a temporary file in the target's directory, moved over {@code target}
     * atomically once complete. On any failure (an I/O error, a tensor source that throws or
     * writes the wrong number of bytes) the temporary file is deleted, the target is left as it
     * was and the exception is rethrown.
     *
     * @throws FluxIoException if the file cannot be written or moved into place, or a tensor
     *                         source throws an {@link IOException} (the cause)
     * @throws GgufException   naming the tensor if a source writes the wrong number of bytes
     */
    public void write(Path target) {
        Objects.requireNonNull(target, "target");
        try {
            writeFile(target);
        } catch (IOException e) {
            throw FluxIoException.of(target, e);
        }
    }

    private void writeFile(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        if (dir == null || absolute.getFileName() == null) {
            throw new IOException(target + ": not a file path");
        }
        Path temp = createTempFile(dir, absolute.getFileName().toString());
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                writeTo(channel);
                // Data must be on disk before the rename publishes it, or a crash could leave an
                // empty or partial file under the target's name.
                channel.force(true);
            }
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException | RuntimeException e) {
                t.addSuppressed(e);
            }
            throw t;
        }
    }

    private static Path createTempFile(Path dir, String fileName) throws IOException {
        // Files.createTempFile would give the file mode 0600; a model file should get the usual
        // permissions, so create it plainly under a random, hidden name.
        for (int attempt = 0; ; attempt++) {
            // Cut long names so that the temporary name stays within a file system's 255 bytes.
            String base = fileName.length() > 100 ? fileName.substring(0, 100) : fileName;
            Path temp = dir.resolve("." + base + "." + Long.toUnsignedString(TEMP_NAMES.nextLong(), 36) + ".tmp");
            try {
                Files.newByteChannel(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
                        .close();
                return temp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 16) {
                    throw e;
                }
            }
        }
    }

    /** Writes the whole file to {@code channel}, from its current position. */
    private void writeTo(WritableByteChannel channel) throws IOException {
        int alignment = alignment();
        BufferedOut out = new BufferedOut(channel);
        // gguf_header_t
        out.putInt(GgufFile.MAGIC);
        out.putInt(VERSION);
        out.putLong(tensors.size());
        out.putLong(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            out.putString(e.getKey());
            out.putInt(e.getValue().type().id());
            putValue(out, e.getValue());
        }
        // gguf_tensor_info_t[], offsets relative to the data section
        long offset = 0;
        for (PendingTensor t : tensors) {
            out.putString(t.name());
            out.putInt(t.shape().length);
            for (int d = t.shape().length - 1; d >= 0; d--) {
                out.putLong(t.shape()[d]);
            }
            out.putInt(t.type().id());
            out.putLong(offset);
            offset = Math.addExact(offset, pad(t.byteSize(), alignment));
        }
        out.padTo(alignment);
        for (PendingTensor t : tensors) {
            long start = out.position();
            CountingChannel counted = new CountingChannel(out, t);
            try {
                t.source().writeTo(counted);
            } finally {
                counted.closed = true;
            }
            if (counted.count != t.byteSize()) {
                throw new GgufException("tensor '" + t.name() + "': its source wrote " + counted.count + " bytes, but "
                        + t.type() + " " + Arrays.toString(t.shape()) + " takes " + t.byteSize());
            }
            assert out.position() - start == t.byteSize();
            out.padTo(alignment);
        }
        out.flush();
    }

    private static void putValue(BufferedOut out, GgufValue value) throws IOException {
        if (value instanceof GgufValue.UInt8 v) {
            out.put(v.bits());
        } else if (value instanceof GgufValue.Int8 v) {
            out.put(v.value());
        } else if (value instanceof GgufValue.UInt16 v) {
            out.putShort(v.bits());
        } else if (value instanceof GgufValue.Int16 v) {
            out.putShort(v.value());
        } else if (value instanceof GgufValue.UInt32 v) {
            out.putInt(v.bits());
        } else if (value instanceof GgufValue.Int32 v) {
            out.putInt(v.value());
        } else if (value instanceof GgufValue.UInt64 v) {
            out.putLong(v.bits());
        } else if (value instanceof GgufValue.Int64 v) {
            out.putLong(v.value());
        } else if (value instanceof GgufValue.Float32 v) {
            out.putInt(Float.floatToRawIntBits(v.value()));
        } else if (value instanceof GgufValue.Float64 v) {
            out.putLong(Double.doubleToRawLongBits(v.value()));
        } else if (value instanceof GgufValue.Bool v) {
            out.put((byte) (v.value() ? 1 : 0));
        } else if (value instanceof GgufValue.Str v) {
            out.putString(v.value());
        } else if (value instanceof GgufValue.Array v) {
            out.putInt(v.elementType().id());
            out.putLong(v.size());
            for (GgufValue e : v.elements()) {
                putValue(out, e);
            }
        } else {
            throw new AssertionError(value);
        }
    }

    private static void checkValue(String key, GgufValue value, int depth) {
        if (value instanceof GgufValue.Str s) {
            utf8(s.value(), "metadata key '" + key + "': string value");
        } else if (value instanceof GgufValue.Array a) {
            if (depth >= MAX_ARRAY_DEPTH) {
                throw new IllegalArgumentException(
                        "metadata key '" + key + "': arrays nested more than " + MAX_ARRAY_DEPTH + " deep");
            }
            if (a.elementType() == GgufValueType.STRING || a.elementType() == GgufValueType.ARRAY) {
                for (GgufValue e : a.elements()) {
                    checkValue(key, e, depth + 1);
                }
            }
        }
    }

    private static void checkAlignment(GgufValue value) {
        if (!(value instanceof GgufValue.UInt32 u)) {
            throw new IllegalArgumentException(
                    "metadata key '" + ALIGNMENT_KEY + "' must be a UINT32, not " + value.type());
        }
        long a = u.value();
        // Must fit an int too: alignment() returns an int and FileChannel positions are longs.
        if (a == 0 || (a & (a - 1)) != 0 || a > (1 << 30)) {
            throw new IllegalArgumentException(
                    "metadata key '" + ALIGNMENT_KEY + "' must be a power of two (1 to 2^30), not " + a);
        }
    }

    /** Validates a tensor's name and shape; returns its byte size. */
    private long checkTensor(String name, GgmlType type, long[] shape) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type of tensor '" + name + "'");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("tensor name is empty");
        }
        int nameBytes = utf8(name, "tensor name '" + name + "'").length;
        if (nameBytes > maxTensorNameBytes) {
            throw new IllegalArgumentException("tensor name '" + name + "' is " + nameBytes
                    + " UTF-8 bytes long; the limit is " + maxTensorNameBytes + " (see GgufWriter.maxTensorNameBytes)");
        }
        if (shape.length < 1 || shape.length > MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " has "
                    + shape.length + " dimensions; GGUF allows 1 to " + MAX_DIMS);
        }
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                        + " has a dimension that is not positive");
            }
        }
        long row = shape[shape.length - 1];
        if (row % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': its innermost dimension " + row + " (shape "
                    + Arrays.toString(shape) + ") is not a multiple of " + type + "'s block size " + type.blockSize());
        }
        try {
            return type.byteSize(product(shape));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(
                    "tensor '" + name + "': shape " + Arrays.toString(shape) + " is too large", e);
        }
    }

    private void claimName(String name) {
        String stripped = name.startsWith(GgufFile.DIFFUSION_MODEL_PREFIX)
                        && name.length() > GgufFile.DIFFUSION_MODEL_PREFIX.length()
                ? name.substring(GgufFile.DIFFUSION_MODEL_PREFIX.length())
                : name;
        String clash = tensorNames.get(name);
        if (clash == null && !stripped.equals(name)) {
            clash = tensorNames.get(stripped);
        }
        if (clash != null) {
            throw new IllegalArgumentException(
                    clash.equals(name)
                            ? "duplicate tensor name '" + name + "'"
                            : "tensor '" + name + "' and tensor '" + clash + "' have the same name once the '"
                                    + GgufFile.DIFFUSION_MODEL_PREFIX + "' prefix is removed, which readers do");
        }
        tensorNames.put(name, name);
        if (!stripped.equals(name)) {
            tensorNames.put(stripped, name);
        }
    }

    private static long product(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    private static long pad(long n, int alignment) {
        return Math.addExact(n, (alignment - n % alignment) % alignment);
    }

    /** Strict UTF-8: a lone surrogate must not silently become '?' in the file. */
    private static byte[] utf8(String s, String what) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8
                    .newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(s));
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " is not valid Unicode (it holds an unpaired surrogate)", e);
        }
    }

    /**
     * Little-endian output through one buffer; large writes bypass it. Keeps the file position,
     * so that padding is computed without asking the channel.
     */
    private static final class BufferedOut {
        private final WritableByteChannel channel;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private long flushed;

        BufferedOut(WritableByteChannel channel) {
            this.channel = channel;
        }

        long position() {
            return flushed + buf.position();
        }

        void put(byte b) throws IOException {
            room(1);
            buf.put(b);
        }

        void putShort(short v) throws IOException {
            room(2);
            buf.putShort(v);
        }

        void putInt(int v) throws IOException {
            room(4);
            buf.putInt(v);
        }

        void putLong(long v) throws IOException {
            room(8);
            buf.putLong(v);
        }

        void putString(String s) throws IOException {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8); // validated strictly when added
            putLong(bytes.length);
            write(ByteBuffer.wrap(bytes));
        }

        void padTo(int alignment) throws IOException {
            int padding = (int) ((alignment - position() % alignment) % alignment);
            while (padding > 0) {
                int n = Math.min(padding, BUFFER_BYTES);
                room(n);
                for (int i = 0; i < n; i++) {
                    buf.put((byte) 0);
                }
                padding -= n;
            }
        }

        /** Writes all of {@code src}; returns the number of bytes written. */
        int write(ByteBuffer src) throws IOException {
            int n = src.remaining();
            if (n <= buf.remaining()) {
                buf.put(src);
                return n;
            }
            flush();
            if (n < buf.capacity()) {
                buf.put(src);
            } else {
                while (src.hasRemaining()) {
                    flushed += channel.write(src);
                }
            }
            return n;
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) {
                flushed += channel.write(buf);
            }
            buf.clear();
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) {
                flush();
            }
        }
    }

    /** What a {@link TensorSource} writes to: counts and refuses bytes beyond the tensor's size. */
    private static final class CountingChannel implements WritableByteChannel {
        private final BufferedOut out;
        private final PendingTensor tensor;
        long count;
        boolean closed;

        CountingChannel(BufferedOut out, PendingTensor tensor) {
            this.out = out;
            this.tensor = tensor;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (closed) {
                throw new ClosedChannelException();
            }
            if (src.remaining() > tensor.byteSize() - count) {
                throw new GgufException("tensor '" + tensor.name() + "': its source writes more than the "
                        + tensor.byteSize() + " bytes " + tensor.type() + " " + Arrays.toString(tensor.shape())
                        + " takes (" + count + " written, " + src.remaining() + " more offered)");
            }
            int n = out.write(src);
            count += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return !closed;
        }

        /** Does nothing: the file stays open for the next tensor. */
        @Override
        public void close() {}
    }
}
