package io.github.flux4j.core.testing;

import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.gguf.GgufWriter;
import io.github.flux4j.gguf.TensorInfo;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The tiny text-encoder fixtures under {@code reference/text/} (written by
 * {@code tools/reference/text_encoder_refs.py}, see the README there) and small file writers for
 * the loading-error tests.
 */
public final class TextRefs implements AutoCloseable {
    /** Resource folder of the fixtures. */
    public static final String ROOT = "/reference/text/";

    private final SafetensorsFile refs;

    private TextRefs(SafetensorsFile refs) {
        this.refs = refs;
    }

    /** Opens {@code refs.safetensors}. */
    public static TextRefs open() {
        return new TextRefs(SafetensorsFile.open(resource("refs.safetensors")));
    }

    /** The path of a fixture file or folder, relative to {@link #ROOT}. */
    public static Path resource(String relative) {
        URL url = Objects.requireNonNull(TextRefs.class.getResource(ROOT + relative), ROOT + relative);
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reference tensor {@code key} in its stored dtype, as a new CPU tensor in the caller's scope. */
    public Tensor get(String key) {
        WeightInfo e = refs.tensor(key);
        ScalarType type = switch (refs.dtype(e)) {
            case F32 -> ScalarType.Float;
            case BF16 -> ScalarType.BFloat16;
            case F16 -> ScalarType.Half;
            case I64 -> ScalarType.Long;
            case I32 -> ScalarType.Int;
            default -> throw new IllegalStateException(key + " is " + refs.dtype(e));
        };
        return bytesTensor(refs.data(e)).view(type).reshape(e.shape());
    }

    /** {@code bytes} (position to limit) as a uint8 CPU tensor that owns a copy of them. */
    public static Tensor bytesTensor(ByteBuffer bytes) {
        ByteBuffer direct = bytes;
        if (!bytes.isDirect()) {
            direct = ByteBuffer.allocateDirect(bytes.remaining());
            direct.put(bytes.duplicate()).flip();
        }
        return torch.from_blob(
                        new BytePointer(direct), new long[] {direct.remaining()}, new TensorOptions(ScalarType.Byte))
                .clone();
    }

    /** ‖actual − expected‖₂ / ‖expected‖₂, in float64. */
    public static double relError(Tensor actual, Tensor expected) {
        Tensor a = actual.to(ScalarType.Double).cpu();
        Tensor e = expected.to(ScalarType.Double).cpu();
        if (!java.util.Arrays.equals(a.shape(), e.shape())) {
            throw new AssertionError("shape " + java.util.Arrays.toString(a.shape()) + " != expected "
                    + java.util.Arrays.toString(e.shape()));
        }
        return torch.norm(a.sub(e)).item_double() / torch.norm(e).item_double();
    }

    /** max |actual − expected|, in float64. */
    public static double maxAbsError(Tensor actual, Tensor expected) {
        return actual.to(ScalarType.Double)
                .cpu()
                .sub(expected.to(ScalarType.Double).cpu())
                .abs()
                .max()
                .item_double();
    }

    /**
     * Copies a GGUF file with some tensors left out or replaced and some metadata changed.
     *
     * @param keep     which stored tensor names to copy
     * @param metadata entries put after the original ones (replacing same keys)
     */
    public static void copyGguf(
            Path from, Path to, Predicate<String> keep, Map<String, io.github.flux4j.gguf.GgufValue> metadata)
            throws IOException {
        try (GgufFile in = GgufFile.open(from)) {
            GgufWriter w = GgufWriter.create().putAll(in.metadata());
            metadata.forEach(w::put);
            for (TensorInfo t : in.tensors()) {
                if (keep.test(t.storedName())) {
                    w.addTensor(t.storedName(), t.type(), t.shape(), in.tensorData(t));
                }
            }
            w.write(to);
        }
    }

    /** A tensor to write into a safetensors file: dtype name as in the header, shape, raw bytes. */
    public record StTensor(String dtype, long[] shape, byte[] data) {}

    /** All tensors of a safetensors file, in file order. */
    public static Map<String, StTensor> readSafetensors(Path file) throws IOException {
        Map<String, StTensor> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (WeightInfo e : f.tensors()) {
                ByteBuffer b = f.data(e);
                byte[] data = new byte[b.remaining()];
                b.get(data);
                out.put(e.name(), new StTensor(f.dtype(e).name(), e.shape(), data));
            }
        }
        return out;
    }

    /** Writes a safetensors file (tensors in map order, no metadata). */
    public static void writeSafetensors(Path file, Map<String, StTensor> tensors) throws IOException {
        StringBuilder json = new StringBuilder("{");
        long offset = 0;
        for (Map.Entry<String, StTensor> e : tensors.entrySet()) {
            StTensor t = e.getValue();
            if (json.length() > 1) {
                json.append(',');
            }
            StringBuilder shape = new StringBuilder();
            for (long d : t.shape()) {
                shape.append(shape.length() == 0 ? "" : ",").append(d);
            }
            json.append('"')
                    .append(e.getKey())
                    .append("\":{\"dtype\":\"")
                    .append(t.dtype())
                    .append("\",\"shape\":[")
                    .append(shape)
                    .append("],\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(offset + t.data().length)
                    .append("]}");
            offset += t.data().length;
        }
        json.append('}');
        while (json.length() % 8 != 0) {
            json.append(' ');
        }
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + header.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(header.length).put(header);
        for (StTensor t : tensors.values()) {
            out.put(t.data());
        }
        Files.write(file, out.array());
    }

    @Override
    public void close() throws IOException {
        refs.close();
    }
}
