package io.github.flux4j.gguf;

import io.github.flux4j.FluxIoException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF file opened for reading: its header parsed and validated up front, its tensor data
 * reached through memory mappings without copying through the Java heap.
 *
 * <pre>{@code
 * try (GgufFile gguf = GgufFile.open(Path.of("flux1-dev-Q8_0.gguf"))) {
 *     String arch = gguf.metadata().findString("general.architecture").orElse("(none)");
 *     TensorInfo qkv = gguf.tensor("double_blocks.0.img_attn.qkv.weight");
 *     ByteBuffer raw = gguf.tensorData(qkv); // Q8_0 blocks, read-only, little-endian
 * }
 * }</pre>
 *
 * <p>Versions 2 and 3 are read (v1, from 2023, used 32-bit counts and is refused). Everything the
 * header claims is checked against the file before it is trusted: counts against the bytes
 * left, string lengths, dims, type ids, offsets, alignment and each tensor's byte range. Any
 * violation raises a {@link GgufFormatException} naming the file, byte offset and reason.
 *
 * <p>Conventions of published diffusion-model files are applied: a {@code model.diffusion_model.}
 * name prefix is removed from {@link TensorInfo#name()} (kept in {@link TensorInfo#storedName()}),
 * and a {@code comfy.gguf.orig_shape.<name>} metadata array overrides the tensor's shape.
 *
 * <p>Each {@link #tensorData} call maps the tensor's region anew; nothing is cached, so a region's
 * pages stay mapped (and counted in the process's resident memory) only while a buffer over it is
 * reachable: a loader that copies each tensor and drops the buffer does not hold the file in RAM
 * next to its copy. The JDK unmaps a region once no buffer returned by {@link #tensorData} refers
 * to it any more (after a garbage collection). Buffers must not be used after close. (Unmapping
 * eagerly would turn a stale buffer into a JVM crash instead of a clean error.) Instances are
 * safe for concurrent reads.
 */
public final class GgufFile implements AutoCloseable {
    /** "GGUF" read as a little-endian uint32. */
    static final int MAGIC = 0x4655_4747;
    /** Alignment when the file has no {@code general.alignment} key. */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** The prefix ComfyUI-style checkpoints put before every diffusion-model tensor name. */
    public static final String DIFFUSION_MODEL_PREFIX = "model.diffusion_model.";
    /** Metadata key prefix of ComfyUI-GGUF's shape overrides. */
    public static final String ORIG_SHAPE_PREFIX = "comfy.gguf.orig_shape.";
    /** GGML_MAX_DIMS. */
    static final int MAX_DIMS = 4;

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final int version;
    private final GgufMetadata metadata;
    private final int alignment;
    private final long dataOffset;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private volatile boolean closed;

    private GgufFile(Path path, FileChannel channel, GgufHeaderReader.Header header) {
        this.path = path;
        this.channel = channel;
        this.fileSize = header.fileSize();
        this.version = header.version();
        this.metadata = header.metadata();
        this.alignment = header.alignment();
        this.dataOffset = header.dataOffset();
        this.tensors = List.copyOf(header.tensors());
        Map<String, TensorInfo> names = new LinkedHashMap<>();
        for (TensorInfo t : tensors) {
            names.put(t.name(), t);
        }
        this.byName = Collections.unmodifiableMap(names);
    }

    /**
     * Opens and validates a GGUF file.
     *
     * @throws GgufFormatException if the file is not valid GGUF v2/v3
     * @throws FluxIoException     if it cannot be read (the cause a
     *                             {@link java.nio.file.NoSuchFileException} if it does not exist)
     */
    public static GgufFile open(Path path) {
        try {
            return read(path);
        } catch (IOException e) {
            throw FluxIoException.of(path, e);
        }
    }

    private static GgufFile read(Path path) throws IOException {
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            GgufHeaderReader.Header header = new GgufHeaderReader(path, channel).read();
            return new GgufFile(path, channel, header);
        } catch (IOException | RuntimeException | Error e) {
            channel.close();
            throw e;
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

    /** The format version (2 or 3). */
    public int version() {
        return version;
    }

    /** The key-value metadata. */
    public GgufMetadata metadata() {
        return metadata;
    }

    /** The data alignment in bytes ({@code general.alignment}, default 32). */
    public int alignment() {
        return alignment;
    }

    /** Absolute byte offset of the tensor data section. */
    public long dataOffset() {
        return dataOffset;
    }

    /** All tensors, in file order. */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /**
     * The tensor with this name, looked up by its {@linkplain TensorInfo#name() name} (prefix
     * removed) or, failing that, by its stored name.
     */
    public Optional<TensorInfo> findTensor(String name) {
        TensorInfo t = byName.get(name);
        if (t == null && name.startsWith(DIFFUSION_MODEL_PREFIX)) {
            t = byName.get(name.substring(DIFFUSION_MODEL_PREFIX.length()));
        }
        return Optional.ofNullable(t);
    }

    /**
     * The tensor with this name.
     *
     * @throws GgufException naming the file and the tensor if there is none
     */
    public TensorInfo tensor(String name) {
        return findTensor(name)
                .orElseThrow(() -> new GgufException(
                        path + ": no tensor named '" + name + "' (the file has " + tensors.size() + " tensors)"));
    }

    /**
     * The bytes of a tensor: a read-only, little-endian view of the mapped file, position 0,
     * limit {@link TensorInfo#byteSize()}. No copy is made; the region is mapped anew on every
     * call, and a caller done with it may unmap it at once with {@link MappedRegions#unmap}.
     *
     * @throws GgufException if the tensor is not from this file, the file is closed, or the
     *                       tensor is 2 GiB or larger (use {@link #tensorData(TensorInfo, long, int)})
     */
    public ByteBuffer tensorData(TensorInfo tensor) {
        checkOwn(tensor);
        if (tensor.byteSize() > Integer.MAX_VALUE) {
            throw new GgufException(
                    path + ": tensor '" + tensor.name() + "' has " + tensor.byteSize()
                            + " bytes, more than one buffer can address; read it in parts with tensorData(tensor, offset, length)");
        }
        return map(tensor.offset(), tensor.byteSize(), tensor.name()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * A part of a tensor's bytes, for tensors too large for one buffer: {@code length} bytes from
     * {@code offsetInTensor}. The region is mapped anew on every call (not cached).
     */
    public ByteBuffer tensorData(TensorInfo tensor, long offsetInTensor, int length) {
        checkOwn(tensor);
        if (offsetInTensor < 0 || length < 0 || offsetInTensor > tensor.byteSize() - length) {
            throw new IllegalArgumentException("range [" + offsetInTensor + ", +" + length + ") is outside tensor '"
                    + tensor.name() + "' of " + tensor.byteSize() + " bytes");
        }
        return map(tensor.offset() + offsetInTensor, length, tensor.name()).order(ByteOrder.LITTLE_ENDIAN);
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
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }

    private void checkOwn(TensorInfo tensor) {
        if (closed) {
            throw new GgufException(path + " is closed");
        }
        if (!tensor.equals(byName.get(tensor.name()))) {
            throw new GgufException("tensor '" + tensor.name() + "' does not belong to " + path);
        }
    }

    private ByteBuffer map(long offset, long size, String tensorName) {
        try {
            // the mapping itself, read-only already: not a view, so that MappedRegions can unmap it
            MappedByteBuffer buffer = channel.map(FileChannel.MapMode.READ_ONLY, offset, size);
            return buffer;
        } catch (IOException e) {
            throw new GgufException(path + ": cannot map tensor '" + tensorName + "': " + e.getMessage(), e);
        }
    }
}
