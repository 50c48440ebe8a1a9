package io.github.flux4j.core.quant;

import io.github.flux4j.core.torch.Tensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Test helpers: Java arrays and files to tensors and back. */
public final class TensorData {
    /** flux-gguf's reference blocks and gguf-py float32 output (surefire runs in the module dir). */
    public static final Path GGUF_REFERENCE = Path.of("../flux-gguf/src/test/resources/reference/dequant");
    /** diffusers' float16-arithmetic output for the same blocks. */
    public static final Path DIFFUSERS_REFERENCE =
            Path.of("src/test/resources/io/github/flux4j/core/quant/diffusers-f16");

    private TensorData() {}

    public static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A CPU uint8 tensor holding a copy of {@code bytes} (owned by the enclosing scope, if any). */
    public static Tensor uint8(byte[] bytes) {
        Tensor out;
        try (PointerScope inner = new PointerScope()) {
            BytePointer p = new BytePointer(bytes);
            out = torch.from_blob(p, new long[] {bytes.length}, new TensorOptions(ScalarType.Byte))
                    .clone()
                    .retainReference();
        }
        PointerScope outer = PointerScope.getInnerScope();
        if (outer != null) {
            outer.attach(out);
            out.releaseReference();
        }
        return out;
    }

    /** A CPU float32 tensor of {@code shape} holding a copy of {@code values} ({@link Tensors#fromFloats}). */
    public static Tensor floats(float[] values, long... shape) {
        return Tensors.fromFloats(values, shape);
    }

    /** The values of a tensor of any floating dtype on any device, as float32 ({@link Tensors#toFloats}). */
    public static float[] toFloats(Tensor t) {
        return Tensors.toFloats(t);
    }

    /** Raw IEEE bits of each value (so -0 vs +0 counts), NaNs canonicalised. */
    public static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToIntBits(values[i]);
        }
        return out;
    }

    /** Little-endian float32 values of a file. */
    public static float[] readFloats(Path p) {
        ByteBuffer b = ByteBuffer.wrap(read(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    /** Little-endian float16 values of a file, widened exactly to float32. */
    public static float[] readHalfs(Path p) {
        ByteBuffer b = ByteBuffer.wrap(read(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = halfToFloat(b.getShort());
        }
        return out;
    }

    /** Little-endian bfloat16 values of a file, widened exactly to float32. */
    public static float[] readBfloat16s(Path p) {
        ByteBuffer b = ByteBuffer.wrap(read(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
        }
        return out;
    }

    /** IEEE binary16 to float32, exact (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            // subnormal (or zero): mant * 2^-24, exact in float32
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
}
