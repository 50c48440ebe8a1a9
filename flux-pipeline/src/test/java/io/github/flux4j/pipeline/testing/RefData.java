package io.github.flux4j.pipeline.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Test helpers: the reference files written by tools/reference/*.py, and raw tensor bytes. */
@SuppressWarnings("try") // PointerScopes are opened for their side effect
public final class RefData {
    /** Reference data root (surefire runs in the module directory). */
    public static final Path ROOT = Path.of("src/test/resources/reference");

    private static final ObjectMapper JSON = new ObjectMapper();

    private RefData() {}

    /** A JSON file. */
    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A double array from a JSON array of numbers (written with Python's repr: exact). */
    public static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }

    /** A float array from a JSON array of float32 values widened exactly to float64. */
    public static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            double d = array.get(i).asDouble();
            out[i] = (float) d;
            if (out[i] != d && !Double.isNaN(d)) {
                throw new IllegalStateException("not a float32 value: " + d);
            }
        }
        return out;
    }

    /** The raw bits of each float, so that -0.0 and 0.0 differ. */
    public static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }

    /** The raw bits of each double. */
    public static long[] bits(double[] values) {
        long[] out = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Double.doubleToRawLongBits(values[i]);
        }
        return out;
    }

    /** A CPU tensor holding a copy of one safetensors entry, in its dtype and shape. */
    public static Tensor tensor(SafetensorsFile file, String name) {
        WeightInfo e = file.tensor(name);
        ByteBuffer data = file.data(e);
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        ScalarType type = switch (file.dtype(e)) {
            case F32 -> ScalarType.Float;
            case F16 -> ScalarType.Half;
            case BF16 -> ScalarType.BFloat16;
            case F64 -> ScalarType.Double;
            default -> throw new IllegalArgumentException(name + ": unexpected dtype " + file.dtype(e));
        };
        Tensor out;
        try (PointerScope inner = new PointerScope()) {
            BytePointer p = new BytePointer(bytes);
            out = torch.from_blob(p, new long[] {bytes.length}, new TensorOptions(ScalarType.Byte))
                    .clone()
                    .view(type)
                    .view(e.shape())
                    .retainReference();
        }
        PointerScope outer = PointerScope.getInnerScope();
        if (outer != null) {
            outer.attach(out);
            out.releaseReference();
        }
        return out;
    }

    /** The raw little-endian bytes of a tensor (copied to the CPU, made contiguous). */
    public static byte[] bytes(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.to(new Device(DeviceType.CPU), t.scalar_type()).contiguous();
            byte[] out = new byte[Math.toIntExact(c.nbytes())];
            new BytePointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    /** The values of a floating tensor as float32 (exact for bf16/f16/f32; {@link Tensors#toFloats}). */
    public static float[] floats(Tensor t) {
        return Tensors.toFloats(t);
    }

    /** The sha256 of a tensor's raw bytes, in lower-case hex (Python's hashlib hexdigest). */
    public static String sha256(Tensor t) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes(t)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The shape of a tensor. */
    public static long[] shape(Tensor t) {
        return Tensors.shape(t);
    }
}
