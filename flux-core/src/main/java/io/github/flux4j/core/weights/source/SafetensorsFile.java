package io.github.flux4j.core.weights.source;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.json.JsonErrors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A safetensors file opened for reading: header parsed and validated up front, tensor bytes
 * reached through read-only memory mappings.
 *
 * <pre>{@code
 * try (SafetensorsFile st = SafetensorsFile.open(Path.of("flux1-dev.safetensors"))) {
 *     WeightInfo e = st.tensor("double_blocks.0.img_attn.qkv.weight");
 *     ByteBuffer bf16 = st.data(e); // e.byteSize() bytes, little-endian, read-only
 * }
 * }</pre>
 *
 * <p>Layout: an 8-byte little-endian header length {@code N}, {@code N} bytes of UTF-8 JSON, then
 * the data section. The JSON maps each tensor name to {@code {"dtype", "shape", "data_offsets":
 * [begin, end]}} (offsets relative to the data section) and may carry a {@code __metadata__}
 * object of strings. Checked before anything is trusted: the header length (at most
 * {@link #MAX_HEADER_BYTES} and inside the file), well-formed JSON without duplicate keys, known
 * dtypes, non-negative dims, {@code begin <= end} inside the data section,
 * {@code end - begin == numel * dtype size}, and no two tensors sharing bytes. Holes between
 * tensors are tolerated. Every failure is a {@link SafetensorsFormatException} naming the file
 * and the tensor.
 *
 * <p>Each {@link #data(WeightInfo)} call maps the tensor's region anew (nothing is cached, so the
 * pages stay mapped only while a buffer over them is reachable: a loader that copies each tensor
 * does not hold the file in RAM next to its copy); tensors of 2 GiB or more are read
 * in parts with {@link #data(WeightInfo, long, int)}. Instances are safe for concurrent reads.
 * Buffers must not be used after {@link #close()}.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted, as in the reference implementation (100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** The JSON key of the free-form string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** A tensor as listed, with what reading it needs. */
    private record Stored(WeightInfo info, SafetensorsDtype dtype, long offset) {
        long end() {
            return offset + info.byteSize();
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final long dataOffset;
    private final Map<String, String> metadata;
    private final List<WeightInfo> tensors;
    private final Map<String, Stored> byName;
    private volatile boolean closed;

    private SafetensorsFile(
            Path path,
            FileChannel channel,
            long fileSize,
            long dataOffset,
            Map<String, String> metadata,
            List<Stored> tensors) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.dataOffset = dataOffset;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = tensors.stream().map(Stored::info).toList();
        Map<String, Stored> names = new LinkedHashMap<>();
        for (Stored e : tensors) {
            names.put(e.info().name(), e);
        }
        this.byName = Collections.unmodifiableMap(names);
    }

    /**
     * Opens and validates a safetensors file.
     *
     * @throws SafetensorsFormatException if the header or layout is invalid
     * @throws FluxIoException            if the file cannot be read (the cause a
     *                                    {@link java.nio.file.NoSuchFileException} if it does not exist)
     */
    public static SafetensorsFile open(Path path) {
        try {
            return open(path, FileChannel.open(path, StandardOpenOption.READ));
        } catch (IOException e) {
            throw FluxIoException.of(path, e);
        }
    }

    private static SafetensorsFile open(Path path, FileChannel channel) throws IOException {
        try {
            return read(path, channel);
        } catch (IOException | RuntimeException | Error e) {
            channel.close();
            throw e;
        }
    }

    private static SafetensorsFile read(Path path, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new SafetensorsFormatException(
                    path, "file of " + fileSize + " bytes is too short for a safetensors header (8-byte length)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(path, channel, lenBuf, 0);
        long headerLen = lenBuf.getLong(0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
            throw new SafetensorsFormatException(
                    path,
                    "header length " + Long.toUnsignedString(headerLen) + " is outside [2, " + MAX_HEADER_BYTES
                            + "] (not a safetensors file?)");
        }
        if (headerLen > fileSize - 8) {
            throw new SafetensorsFormatException(
                    path,
                    "header length " + headerLen + " runs past the end of the " + fileSize + "-byte file (truncated?)");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
        readFully(path, channel, headerBuf, 8);
        String json = new String(headerBuf.array(), StandardCharsets.UTF_8);
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsFormatException(path, "header is not valid JSON: " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsFormatException(path, "header is not a JSON object");
        }
        long dataOffset = 8 + headerLen;
        long dataSize = fileSize - dataOffset;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Stored> entries = new ArrayList<>();
        String fileName = String.valueOf(path.getFileName());
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (METADATA_KEY.equals(name)) {
                if (!node.isObject()) {
                    throw new SafetensorsFormatException(path, METADATA_KEY + " is not a JSON object");
                }
                node.properties()
                        .forEach(m -> metadata.put(
                                m.getKey(),
                                m.getValue().isTextual()
                                        ? m.getValue().textValue()
                                        : m.getValue().toString()));
                continue;
            }
            entries.add(parseEntry(path, fileName, name, node, dataOffset, dataSize));
        }
        checkOverlaps(path, entries);
        return new SafetensorsFile(path, channel, fileSize, dataOffset, metadata, entries);
    }

    private static Stored parseEntry(
            Path path, String fileName, String name, JsonNode node, long dataOffset, long dataSize) {
        if (!node.isObject()) {
            throw new SafetensorsFormatException(path, "tensor '" + name + "': header entry is not a JSON object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new SafetensorsFormatException(path, "tensor '" + name + "': missing or non-string \"dtype\"");
        }
        SafetensorsDtype dtype = SafetensorsDtype.fromHeaderName(dtypeNode.textValue())
                .orElseThrow(() -> new SafetensorsFormatException(
                        path, "tensor '" + name + "': unknown dtype '" + dtypeNode.textValue() + "'"));
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new SafetensorsFormatException(path, "tensor '" + name + "': missing or non-array \"shape\"");
        }
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new SafetensorsFormatException(
                        path, "tensor '" + name + "': shape " + shapeNode + " has an invalid dimension " + d);
            }
            shape[i] = d.longValue();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw new SafetensorsFormatException(path, "tensor '" + name + "': shape " + shapeNode + " overflows");
            }
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null
                || !offsets.isArray()
                || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber()
                || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong()
                || !offsets.get(1).canConvertToLong()) {
            throw new SafetensorsFormatException(
                    path, "tensor '" + name + "': \"data_offsets\" must be [begin, end], got " + offsets);
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        if (begin < 0 || end < begin) {
            throw new SafetensorsFormatException(
                    path, "tensor '" + name + "': data_offsets [" + begin + ", " + end + "] are invalid");
        }
        if (end > dataSize) {
            throw new SafetensorsFormatException(
                    path,
                    "tensor '" + name + "': data_offsets [" + begin + ", " + end + "] run past the end of the "
                            + dataSize + "-byte data section (truncated file?)");
        }
        long expected;
        try {
            expected = Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafetensorsFormatException(path, "tensor '" + name + "': size overflows");
        }
        if (end - begin != expected) {
            throw new SafetensorsFormatException(
                    path,
                    "tensor '" + name + "': " + (end - begin) + " bytes for " + dtype + " " + Arrays.toString(shape)
                            + ", which needs " + expected);
        }
        WeightInfo info = new WeightInfo(
                name, dtype.ggmlType().orElse(null), dtype.name(), shape, end - begin, name + " in " + fileName);
        return new Stored(info, dtype, dataOffset + begin);
    }

    private static void checkOverlaps(Path path, List<Stored> entries) {
        List<Stored> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Stored::offset).thenComparingLong(Stored::end));
        Stored prev = null;
        for (Stored e : sorted) {
            if (e.info().byteSize() == 0) {
                continue;
            }
            if (prev != null && e.offset() < prev.end()) {
                throw new SafetensorsFormatException(
                        path,
                        "tensors '" + prev.info().name() + "' and '" + e.info().name() + "' overlap");
            }
            prev = e;
        }
    }

    private static void readFully(Path path, FileChannel channel, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                throw new SafetensorsFormatException(path, "unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    /** The file's path. */
    public Path path() {
        return path;
    }

    /** The file's size in bytes. */
    public long fileSize() {
        return fileSize;
    }

    /** Absolute offset of the data section ({@code 8 + header length}). */
    public long dataOffset() {
        return dataOffset;
    }

    /** The {@code __metadata__} strings (empty if the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * All tensors, in header order, under their stored names; {@link WeightInfo#origin()} is
     * {@code "<name> in <file name>"}, {@link WeightInfo#type()} null for a dtype other than
     * F32, F16 and BF16.
     */
    public List<WeightInfo> tensors() {
        return tensors;
    }

    /** The tensor with this name, if any. */
    public Optional<WeightInfo> find(String name) {
        Stored e = byName.get(name);
        return e == null ? Optional.empty() : Optional.of(e.info());
    }

    /**
     * The tensor with this name.
     *
     * @throws WeightException naming the file and the tensor if there is none
     */
    public WeightInfo tensor(String name) {
        Stored e = byName.get(name);
        if (e == null) {
            throw new WeightException(
                    path + ": no tensor named '" + name + "' (the file has " + tensors.size() + " tensors)");
        }
        return e.info();
    }

    /**
     * A tensor's element type as the header names it.
     *
     * @throws WeightException if the tensor is not from this file
     */
    public SafetensorsDtype dtype(WeightInfo tensor) {
        return own(tensor).dtype();
    }

    /**
     * Absolute byte offset of a tensor's data in the file.
     *
     * @throws WeightException if the tensor is not from this file
     */
    public long offset(WeightInfo tensor) {
        return own(tensor).offset();
    }

    /**
     * The bytes of a tensor: a read-only little-endian view of the mapped file, position 0, limit
     * {@link WeightInfo#byteSize()}. No copy is made; the region is mapped anew on every call, and a
     * caller done with it may unmap it at once with {@code MappedRegions.unmap}.
     *
     * @throws WeightException if the tensor is not from this file, the file is closed, or the
     *                         tensor is 2 GiB or larger (read it with {@link #data(WeightInfo, long, int)})
     */
    public ByteBuffer data(WeightInfo tensor) {
        Stored stored = readable(tensor);
        if (tensor.byteSize() > Integer.MAX_VALUE) {
            throw new WeightException(path + ": tensor '" + tensor.name() + "' has " + tensor.byteSize()
                    + " bytes, more than one buffer can address; read it in parts with data(tensor, offset, length)");
        }
        return map(stored.offset(), tensor.byteSize(), tensor.name()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * {@code length} bytes of a tensor from {@code offsetInTensor}, for tensors too large for one
     * buffer or for row slices. The region is mapped anew on every call (not cached).
     */
    public ByteBuffer data(WeightInfo tensor, long offsetInTensor, int length) {
        Stored stored = readable(tensor);
        if (offsetInTensor < 0 || length < 0 || offsetInTensor > tensor.byteSize() - length) {
            throw new IllegalArgumentException("range [" + offsetInTensor + ", +" + length + ") is outside tensor '"
                    + tensor.name() + "' of " + tensor.byteSize() + " bytes");
        }
        if (offsetInTensor == 0 && length == tensor.byteSize()) {
            return data(tensor);
        }
        return map(stored.offset() + offsetInTensor, length, tensor.name()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Closes the file. Buffers obtained earlier must not be used afterwards.
     *
     * @throws FluxIoException if the system fails to close it
     */
    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            throw FluxIoException.of(path, e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }

    private Stored readable(WeightInfo tensor) {
        if (closed) {
            throw new WeightException(path + " is closed");
        }
        return own(tensor);
    }

    private Stored own(WeightInfo tensor) {
        Stored e = byName.get(tensor.name());
        if (e == null || !tensor.equals(e.info())) {
            throw new WeightException("tensor '" + tensor.name() + "' does not belong to " + path);
        }
        return e;
    }

    private ByteBuffer map(long offset, long size, String tensorName) {
        try {
            // the mapping itself, read-only already: not a view, so that MappedRegions can unmap it
            return channel.map(FileChannel.MapMode.READ_ONLY, offset, size);
        } catch (IOException e) {
            throw new WeightException(path + ": cannot map tensor '" + tensorName + "': " + e.getMessage(), e);
        }
    }
}
