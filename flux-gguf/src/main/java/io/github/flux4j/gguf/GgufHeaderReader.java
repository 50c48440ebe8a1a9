package io.github.flux4j.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses and validates the header of a GGUF file: magic, version, metadata and tensor infos.
 * Each read quotes the field of ggml's {@code docs/gguf.md} it decodes. Nothing the file
 * claims is used before it is checked against the bytes that are actually there, so a corrupt
 * or hostile file ends in a {@link GgufFormatException}, never in an OutOfMemoryError or an
 * index exception.
 */
final class GgufHeaderReader {
    /** Nested arrays deeper than this are refused (real files nest at most once). */
    private static final int MAX_ARRAY_DEPTH = 8;
    /**
     * Metadata elements held as objects are capped so that a hostile array count within a large
     * file cannot exhaust the heap; the largest tokenizer arrays hold well under a million.
     */
    private static final long MAX_METADATA_ELEMENTS = 1L << 24;
    /** Smallest tensor info: name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8). */
    private static final int MIN_TENSOR_INFO_BYTES = 32;
    /** Smallest metadata entry: key length (8) + value type (4) + a one-byte value. */
    private static final int MIN_KV_BYTES = 13;

    record Header(
            int version,
            long fileSize,
            GgufMetadata metadata,
            int alignment,
            long dataOffset,
            List<TensorInfo> tensors) {}

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    /** Absolute file position of buf's position. */
    private long pos;

    private long metadataElements;

    GgufHeaderReader(Path path, FileChannel channel) throws IOException {
        this.path = path;
        this.channel = channel;
        this.fileSize = channel.size();
        buf.limit(0);
    }

    Header read() throws IOException {
        // uint32_t magic;
        int magic = readInt();
        if (magic != GgufFile.MAGIC) {
            throw error(0, "bad magic " + String.format("0x%08x", magic) + ", expected \"GGUF\" (0x46554747)");
        }
        // uint32_t version;
        int version = readInt();
        checkVersion(version);
        // uint64_t tensor_count;
        long tensorCountAt = pos;
        long tensorCount = readLong();
        // uint64_t metadata_kv_count;
        long kvCountAt = pos;
        long kvCount = readLong();
        checkCount(kvCountAt, kvCount, MIN_KV_BYTES, "metadata entries");
        checkCount(tensorCountAt, tensorCount, MIN_TENSOR_INFO_BYTES, "tensors");

        // gguf_metadata_kv_t metadata_kv[metadata_kv_count];
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            long at = pos;
            String key = readString("metadata key", true);
            if (key.isEmpty()) {
                throw error(at, "empty metadata key");
            }
            GgufValue value = readValue(key, readValueType(key), 0);
            if (kv.put(key, value) != null) {
                throw error(at, "duplicate metadata key '" + key + "'");
            }
        }
        GgufMetadata metadata = new GgufMetadata(kv);
        int alignment = alignment(metadata);

        // gguf_tensor_info_t tensor_infos[tensor_count];
        List<RawTensor> raw = new ArrayList<>((int) Math.min(tensorCount, 4096));
        for (long i = 0; i < tensorCount; i++) {
            raw.add(readTensorInfo());
        }

        // uint8_t _padding[]; then the data section, aligned.
        long dataOffset = alignUp(pos, alignment);
        if (tensorCount > 0 && dataOffset > fileSize) {
            throw error(pos, "file ends at " + fileSize + " before the tensor data section at " + dataOffset);
        }
        List<TensorInfo> tensors = resolveTensors(raw, metadata, alignment, dataOffset);
        return new Header(version, fileSize, metadata, alignment, dataOffset, tensors);
    }

    private void checkVersion(int version) {
        if (version == 2 || version == 3) {
            return;
        }
        if (version == 1) {
            throw error(4, "GGUF version 1 is not supported (it predates 64-bit counts); convert the file to v3");
        }
        int swapped = Integer.reverseBytes(version);
        if (swapped >= 1 && swapped <= 3) {
            throw error(
                    4,
                    "version field reads " + Integer.toUnsignedString(version) + ", which is version " + swapped
                            + " byte-swapped: this is a big-endian GGUF file, and only little-endian files are supported");
        }
        throw error(4, "unsupported GGUF version " + Integer.toUnsignedString(version) + " (supported: 2, 3)");
    }

    private void checkCount(long at, long count, int minBytesEach, String what) {
        long left = fileSize - (at + 8);
        if (count < 0 || count > left / minBytesEach) {
            throw error(
                    at,
                    "the header claims " + Long.toUnsignedString(count) + " " + what + ", more than the " + left
                            + " bytes left in the file can hold");
        }
    }

    private int alignment(GgufMetadata metadata) {
        GgufValue v = metadata.asMap().get("general.alignment");
        if (v == null) {
            return GgufFile.DEFAULT_ALIGNMENT;
        }
        // The spec says UINT32; other integer types are accepted when the value is sound.
        long a = GgufValue.integerValue(v)
                .orElseThrow(() -> error(0, "metadata key 'general.alignment' is " + v.type() + ", not an integer"));
        if (a <= 0 || a > (1 << 30) || Long.bitCount(a) != 1) {
            throw error(0, "metadata key 'general.alignment' is " + a + ", not a power of two between 1 and 2^30");
        }
        return (int) a;
    }

    private GgufValueType readValueType(String key) throws IOException {
        long at = pos;
        int id = readInt();
        return GgufValueType.fromId(id)
                .orElseThrow(() -> error(
                        at,
                        "unknown value type id " + Integer.toUnsignedString(id) + " for metadata key '" + key + "'"));
    }

    private GgufValue readValue(String key, GgufValueType type, int depth) throws IOException {
        switch (type) {
            case UINT8:
                return new GgufValue.UInt8(readByte());
            case INT8:
                return new GgufValue.Int8(readByte());
            case UINT16:
                return new GgufValue.UInt16(readShort());
            case INT16:
                return new GgufValue.Int16(readShort());
            case UINT32:
                return new GgufValue.UInt32(readInt());
            case INT32:
                return new GgufValue.Int32(readInt());
            case FLOAT32:
                return new GgufValue.Float32(Float.intBitsToFloat(readInt()));
            case UINT64:
                return new GgufValue.UInt64(readLong());
            case INT64:
                return new GgufValue.Int64(readLong());
            case FLOAT64:
                return new GgufValue.Float64(Double.longBitsToDouble(readLong()));
            case BOOL: {
                long at = pos;
                byte b = readByte();
                if (b != 0 && b != 1) {
                    throw error(at, "metadata key '" + key + "': BOOL byte is " + (b & 0xFF) + ", not 0 or 1");
                }
                return new GgufValue.Bool(b == 1);
            }
            case STRING:
                return new GgufValue.Str(readString("value of metadata key '" + key + "'", false));
            case ARRAY:
                return readArray(key, depth);
            default:
                throw new AssertionError(type);
        }
    }

    private GgufValue readArray(String key, int depth) throws IOException {
        long at = pos;
        if (depth >= MAX_ARRAY_DEPTH) {
            throw error(at, "metadata key '" + key + "': arrays nested more than " + MAX_ARRAY_DEPTH + " deep");
        }
        // gguf_metadata_value_type type; uint64_t len; gguf_metadata_value_t array[len];
        GgufValueType elementType = readValueType(key);
        long countAt = pos;
        long count = readLong();
        long left = fileSize - pos;
        if (count < 0 || count > left / elementType.minBytes()) {
            throw error(
                    countAt,
                    "metadata key '" + key + "': array of " + Long.toUnsignedString(count) + " " + elementType
                            + " elements cannot fit in the " + left + " bytes left in the file");
        }
        metadataElements += count;
        if (metadataElements > MAX_METADATA_ELEMENTS) {
            throw error(
                    countAt,
                    "metadata key '" + key + "': metadata holds more than " + MAX_METADATA_ELEMENTS
                            + " array elements in all, more than this reader accepts");
        }
        GgufValue[] elements = new GgufValue[(int) count];
        for (int i = 0; i < elements.length; i++) {
            elements[i] = readValue(key, elementType, depth + 1);
        }
        return new GgufValue.Array(elementType, Arrays.asList(elements));
    }

    private record RawTensor(long at, String name, long[] ggmlDims, GgmlType type, long offset) {}

    private RawTensor readTensorInfo() throws IOException {
        long at = pos;
        // gguf_string_t name;
        String name = readString("tensor name", true);
        if (name.isEmpty()) {
            throw error(at, "empty tensor name");
        }
        // uint32_t n_dimensions;
        long dimsAt = pos;
        int nDims = readInt();
        if (nDims < 1 || nDims > GgufFile.MAX_DIMS) {
            throw error(
                    dimsAt,
                    "tensor '" + name + "' has " + Integer.toUnsignedString(nDims) + " dimensions (allowed: 1 to "
                            + GgufFile.MAX_DIMS + ")");
        }
        // uint64_t dimensions[n_dimensions];   (innermost first)
        long[] dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
            long dimAt = pos;
            dims[d] = readLong();
            if (dims[d] <= 0) {
                throw error(
                        dimAt,
                        "tensor '" + name + "' has dimension " + d + " = " + Long.toUnsignedString(dims[d])
                                + ", which is not positive");
            }
            try {
                elements = Math.multiplyExact(elements, dims[d]);
            } catch (ArithmeticException e) {
                throw error(dimAt, "tensor '" + name + "': element count overflows 64 bits");
            }
        }
        // ggml_type type;
        long typeAt = pos;
        int typeId = readInt();
        GgmlType type = GgmlType.fromId(typeId)
                .orElseThrow(() -> error(
                        typeAt, "tensor '" + name + "' has unknown GGML type id " + Integer.toUnsignedString(typeId)));
        if (dims[0] % type.blockSize() != 0) {
            throw error(
                    dimsAt,
                    "tensor '" + name + "': row length " + dims[0] + " is not a multiple of the " + type
                            + " block size " + type.blockSize());
        }
        // uint64_t offset;   (relative to the data section)
        long offset = readLong();
        return new RawTensor(at, name, dims, type, offset);
    }

    private List<TensorInfo> resolveTensors(
            List<RawTensor> raw, GgufMetadata metadata, int alignment, long dataOffset) {
        Set<String> storedNames = new HashSet<>();
        Map<String, RawTensor> strippedNames = new HashMap<>();
        List<TensorInfo> out = new ArrayList<>(raw.size());
        long dataSize = fileSize - dataOffset;
        for (RawTensor r : raw) {
            if (!storedNames.add(r.name())) {
                throw error(r.at(), "duplicate tensor name '" + r.name() + "'");
            }
            String name = r.name().startsWith(GgufFile.DIFFUSION_MODEL_PREFIX)
                            && r.name().length() > GgufFile.DIFFUSION_MODEL_PREFIX.length()
                    ? r.name().substring(GgufFile.DIFFUSION_MODEL_PREFIX.length())
                    : r.name();
            RawTensor clash = strippedNames.put(name, r);
            if (clash != null) {
                throw error(
                        r.at(),
                        "tensor '" + r.name() + "' and tensor '" + clash.name() + "' have the same name once the '"
                                + GgufFile.DIFFUSION_MODEL_PREFIX + "' prefix is removed");
            }
            long elements = 1;
            for (long d : r.ggmlDims()) {
                elements *= d; // checked for overflow when read
            }
            long byteSize;
            try {
                byteSize = r.type().byteSize(elements);
            } catch (ArithmeticException e) {
                throw error(r.at(), "tensor '" + r.name() + "': byte size overflows 64 bits");
            }
            if (r.offset() < 0 || r.offset() % alignment != 0) {
                throw error(
                        r.at(),
                        "tensor '" + r.name() + "': data offset " + Long.toUnsignedString(r.offset())
                                + " is not a multiple of the alignment " + alignment);
            }
            if (r.offset() > dataSize || byteSize > dataSize - r.offset()) {
                throw error(
                        r.at(),
                        "tensor '" + r.name() + "': its " + byteSize + " bytes at data offset " + r.offset()
                                + " run past the end of the file (the data section holds " + Math.max(dataSize, 0)
                                + " bytes)");
            }
            long[] shape = reversed(r.ggmlDims());
            shape = shapeOverride(metadata, r, shape, elements);
            out.add(new TensorInfo(name, r.name(), r.type(), shape, dataOffset + r.offset(), byteSize));
        }
        checkNoOverlap(raw, out);
        return out;
    }

    private long[] shapeOverride(GgufMetadata metadata, RawTensor r, long[] shape, long elements) {
        GgufValue v = metadata.asMap().get(GgufFile.ORIG_SHAPE_PREFIX + r.name());
        if (v == null) {
            return shape;
        }
        String key = GgufFile.ORIG_SHAPE_PREFIX + r.name();
        if (!(v instanceof GgufValue.Array a) || a.size() == 0 || a.size() > 8) {
            throw error(r.at(), "metadata key '" + key + "' must be a non-empty array of at most 8 integers");
        }
        long[] orig = new long[a.size()];
        long product = 1;
        for (int i = 0; i < orig.length; i++) {
            long d = GgufValue.integerValue(a.elements().get(i)).orElse(-1);
            if (d <= 0) {
                throw error(r.at(), "metadata key '" + key + "' holds a dimension that is not a positive integer");
            }
            orig[i] = d;
            product = product > Long.MAX_VALUE / d ? -1 : product * d;
            if (product < 0) {
                throw error(r.at(), "metadata key '" + key + "': element count overflows 64 bits");
            }
        }
        if (product != elements) {
            throw error(
                    r.at(),
                    "metadata key '" + key + "' gives shape " + Arrays.toString(orig) + " (" + product
                            + " elements) but tensor '" + r.name() + "' holds " + elements + " elements");
        }
        return orig;
    }

    private void checkNoOverlap(List<RawTensor> raw, List<TensorInfo> infos) {
        Integer[] order = new Integer[infos.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(
                order,
                (a, b) -> Long.compare(infos.get(a).offset(), infos.get(b).offset()));
        for (int k = 1; k < order.length; k++) {
            TensorInfo prev = infos.get(order[k - 1]);
            TensorInfo cur = infos.get(order[k]);
            if (cur.offset() < prev.offset() + prev.byteSize()) {
                throw error(
                        raw.get(order[k]).at(),
                        "tensor '" + cur.storedName() + "' overlaps the data of tensor '" + prev.storedName() + "'");
            }
        }
    }

    private static long[] reversed(long[] dims) {
        long[] out = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            out[i] = dims[dims.length - 1 - i];
        }
        return out;
    }

    private static long alignUp(long x, int alignment) {
        long rem = x % alignment;
        return rem == 0 ? x : x + alignment - rem;
    }

    // ---- primitive reads, each checked against the end of the file ----

    private void need(int n) throws IOException {
        if (buf.remaining() >= n) {
            return;
        }
        if (pos + n > fileSize) {
            throw error(pos, "file is truncated: needed " + n + " more bytes, but it ends at byte " + fileSize);
        }
        long readAt = pos + buf.remaining();
        buf.compact();
        while (buf.position() < n) {
            int r = channel.read(buf, readAt);
            if (r < 0) {
                throw error(pos, "file is truncated: it ended while reading (it shrank after it was opened?)");
            }
            readAt += r;
        }
        buf.flip();
    }

    private byte readByte() throws IOException {
        need(1);
        pos += 1;
        return buf.get();
    }

    private short readShort() throws IOException {
        need(2);
        pos += 2;
        return buf.getShort();
    }

    private int readInt() throws IOException {
        need(4);
        pos += 4;
        return buf.getInt();
    }

    private long readLong() throws IOException {
        need(8);
        pos += 8;
        return buf.getLong();
    }

    /**
     * Reads a string. Keys and tensor names must be valid UTF-8 (they are looked up); values
     * decode leniently, replacing malformed bytes, because some tokenizer vocabularies in the
     * wild hold raw byte sequences.
     */
    private String readString(String what, boolean strict) throws IOException {
        // gguf_string_t: uint64_t len; char string[len];   (UTF-8, not NUL-terminated)
        long at = pos;
        long len = readLong();
        if (len < 0 || len > fileSize - pos) {
            throw error(
                    at,
                    what + ": string length " + Long.toUnsignedString(len) + " runs past the end of the file ("
                            + (fileSize - pos) + " bytes left)");
        }
        if (len > Integer.MAX_VALUE - 16) {
            throw error(at, what + ": string length " + len + " is larger than this reader supports");
        }
        byte[] bytes = new byte[(int) len];
        int done = 0;
        while (done < bytes.length) {
            if (!buf.hasRemaining()) {
                need(1);
            }
            int n = Math.min(buf.remaining(), bytes.length - done);
            buf.get(bytes, done, n);
            done += n;
            pos += n;
        }
        if (!strict) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw error(at, what + " is not valid UTF-8");
        }
    }

    private GgufFormatException error(long offset, String reason) {
        return new GgufFormatException(path, offset, reason);
    }
}
