package io.github.flux4j.core.weights.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.gguf.quant.Float16;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes safetensors files that {@link SafetensorsFile} (and the reference implementation) read:
 * tensors in the order they were added, data back to back without gaps, byte-deterministic.
 *
 * <pre>{@code
 * SafetensorsWriter.create()
 *         .metadata("format", "pt")
 *         .addFloats("linear.weight", new long[] {4, 8}, weights, SafetensorsDtype.BF16)
 *         .add("ids", SafetensorsDtype.I64, new long[] {3}, idBytes)
 *         .write(Path.of("model.safetensors"));   // temp file, moved into place on success
 * }</pre>
 *
 * <p>Layout: an 8-byte little-endian header length {@code N}, then {@code N} bytes of compact
 * JSON ({@code {"__metadata__":{...},"name":{"dtype":"F32","shape":[...],"data_offsets":[b,e]},...}},
 * the metadata object only when there is metadata) padded with spaces so that the data section
 * starts at a multiple of 8 (as the reference writer pads it), then the tensors' little-endian
 * bytes. The whole file is held in memory until written: meant for small and medium files (test
 * models, the demo model, references), not for multi-GB checkpoints.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom TEMP_NAMES = new SecureRandom();

    private record Item(String name, SafetensorsDtype dtype, long[] shape, byte[] data) {}

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<Item> items = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    private SafetensorsWriter() {}

    /** A writer without tensors or metadata. */
    public static SafetensorsWriter create() {
        return new SafetensorsWriter();
    }

    /** Adds (or replaces) a {@code __metadata__} entry; entries are written in insertion order. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /**
     * Adds a tensor from its raw little-endian bytes (copied).
     *
     * @throws IllegalArgumentException if the name is empty, reserved or already added, a
     *                                  dimension is negative, or {@code data} does not hold
     *                                  exactly {@code numel * dtype size} bytes
     */
    public SafetensorsWriter add(String name, SafetensorsDtype dtype, long[] shape, byte[] data) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        if (name.isEmpty() || name.equals(SafetensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("invalid tensor name '" + name + "'");
        }
        if (names.contains(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, d);
        }
        long expected = Math.multiplyExact(numel, (long) dtype.byteSize());
        if (data.length != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.length + " bytes for " + dtype + " "
                    + Arrays.toString(shape) + ", which needs " + expected);
        }
        names.add(name);
        items.add(new Item(name, dtype, shape.clone(), data.clone()));
        return this;
    }

    /**
     * Adds a float tensor stored as {@code dtype}: {@link SafetensorsDtype#F32} as is,
     * {@link SafetensorsDtype#F16} and {@link SafetensorsDtype#BF16} rounded to nearest even
     * (as PyTorch's {@code .to(dtype)} rounds).
     *
     * @throws IllegalArgumentException for another dtype, or as {@link #add}
     */
    public SafetensorsWriter addFloats(String name, long[] shape, float[] values, SafetensorsDtype dtype) {
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> {
                for (float v : values) {
                    b.putFloat(v);
                }
            }
            case F16 -> {
                for (float v : values) {
                    b.putShort(Float16.fromFloat(v));
                }
            }
            case BF16 -> {
                for (float v : values) {
                    b.putShort(Float16.floatToBf16(v));
                }
            }
            default -> throw new IllegalArgumentException("tensor '" + name + "': floats cannot be stored as " + dtype);
        }
        return add(name, dtype, shape, b.array());
    }

    /** Names of the tensors added so far, in file order. */
    public List<String> tensorNames() {
        return items.stream().map(Item::name).toList();
    }

    /** The complete file contents. */
    public byte[] toBytes() {
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            header.put(SafetensorsFile.METADATA_KEY, metadata);
        }
        long offset = 0;
        for (Item it : items) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("dtype", it.dtype().name());
            e.put("shape", it.shape());
            e.put("data_offsets", new long[] {offset, offset + it.data().length});
            header.put(it.name(), e);
            offset += it.data().length;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize a safetensors header", e);
        }
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer out =
                ByteBuffer.allocate(Math.toIntExact(8 + padded + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json);
        for (int i = json.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        for (Item it : items) {
            out.put(it.data());
        }
        return out.array();
    }

    /**
     * Writes the file: to a temporary file in the target's directory, moved over {@code target}
     * once complete, so that no reader ever sees a partial file under the target's name. On
     * failure the temporary file is deleted and the target is left as it was.
     *
     * @throws FluxIoException if the file cannot be written or moved into place
     */
    public void write(Path target) {
        byte[] bytes = toBytes();
        try {
            write(target, bytes);
        } catch (IOException e) {
            throw FluxIoException.of(target, e);
        }
    }

    private static void write(Path target, byte[] bytes) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        if (dir == null || absolute.getFileName() == null) {
            throw new IOException(target + ": not a file path");
        }
        Path temp = createTempFile(dir, absolute.getFileName().toString());
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    channel.write(b);
                }
                channel.force(true);
            }
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private static Path createTempFile(Path dir, String fileName) throws IOException {
        // Not Files.createTempFile: that would give the file mode 0600 instead of the usual one.
        String base = fileName.length() > 100 ? fileName.substring(0, 100) : fileName;
        for (int attempt = 0; ; attempt++) {
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

    @Override
    public String toString() {
        return "SafetensorsWriter[" + items.size() + " tensors]";
    }
}
