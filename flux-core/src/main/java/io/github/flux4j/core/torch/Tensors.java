package io.github.flux4j.core.torch;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Java arrays to tensors and back, without JavaCPP calls: the way to build a model's inputs from
 * your own data and to read its outputs.
 *
 * <pre>{@code
 * try (PointerScope scope = new PointerScope()) {
 *     Tensor x = Tensors.fromFloats(values, 1, 4096, 64);                     // CPU float32 [1, 4096, 64]
 *     Tensor y = Tensors.fromFloats(values, new long[] {1, 4096, 64}, ComputeDtype.BF16, FluxDevice.cuda(0));
 *     float[] back = Tensors.toFloats(y);                                    // any dtype, any device
 * }
 * }</pre>
 *
 * Every tensor made here holds its own copy of the data (changing the array afterwards does not
 * change the tensor) and, like every result in flux4j, belongs to the caller's innermost
 * {@link org.bytedeco.javacpp.PointerScope} (without one, the caller must {@code close()} it).
 * Arrays are row-major (C order), as PyTorch's.
 */
public final class Tensors {
    private Tensors() {}

    /** A CPU float32 tensor of {@code shape} holding a copy of {@code data}. */
    public static Tensor fromFloats(float[] data, long... shape) {
        return fromFloats(data, shape, ComputeDtype.F32, FluxDevice.cpu());
    }

    /**
     * A tensor of {@code shape} holding {@code data} rounded to {@code dtype}, on {@code device}.
     *
     * @throws IllegalArgumentException if {@code shape} has a negative size or does not hold
     *                                  exactly {@code data.length} values
     */
    public static Tensor fromFloats(float[] data, long[] shape, ComputeDtype dtype, FluxDevice device) {
        checkCount(data.length, shape);
        return Scopes.scoped(() -> onDevice(
                torch.from_blob(new FloatPointer(data), shape.clone(), new TensorOptions(ScalarType.Float)),
                dtype.scalarType(),
                device));
    }

    /** A CPU int64 tensor of {@code shape} holding a copy of {@code data} (token ids, positions). */
    public static Tensor fromLongs(long[] data, long... shape) {
        return fromLongs(data, shape, FluxDevice.cpu());
    }

    /** An int64 tensor of {@code shape} holding a copy of {@code data}, on {@code device}. */
    public static Tensor fromLongs(long[] data, long[] shape, FluxDevice device) {
        checkCount(data.length, shape);
        return Scopes.scoped(() -> onDevice(
                torch.from_blob(new LongPointer(data), shape.clone(), new TensorOptions(ScalarType.Long)),
                ScalarType.Long,
                device));
    }

    /**
     * A CPU int64 tensor of {@code shape} holding {@code data} widened to int64: the type the text
     * encoders take token ids in, and PyTorch's default integer type.
     */
    public static Tensor fromInts(int[] data, long... shape) {
        return fromInts(data, shape, FluxDevice.cpu());
    }

    /** An int64 tensor of {@code shape} holding {@code data} widened to int64, on {@code device}. */
    public static Tensor fromInts(int[] data, long[] shape, FluxDevice device) {
        checkCount(data.length, shape);
        return Scopes.scoped(() -> onDevice(
                torch.from_blob(new IntPointer(data), shape.clone(), new TensorOptions(ScalarType.Int)),
                ScalarType.Long,
                device));
    }

    /**
     * The values of a tensor of any floating (or integer) dtype on any device, as float32, in
     * row-major order (exact for float32, bfloat16 and float16).
     */
    public static float[] toFloats(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor c = hostCopy(t, ScalarType.Float);
            float[] out = new float[Math.toIntExact(c.numel())];
            if (out.length > 0) { // an empty tensor has no data pointer
                c.data_ptr_float().get(out);
            }
            return out;
        }
    }

    /** The values of an integer (or floating, truncated) tensor on any device, as int64. */
    public static long[] toLongs(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor c = hostCopy(t, ScalarType.Long);
            long[] out = new long[Math.toIntExact(c.numel())];
            if (out.length > 0) {
                c.data_ptr_long().get(out);
            }
            return out;
        }
    }

    /**
     * The values of an integer tensor on any device, as int32.
     *
     * @throws ArithmeticException if a value does not fit in an int
     */
    public static int[] toInts(Tensor t) {
        long[] wide = toLongs(t);
        int[] out = new int[wide.length];
        for (int i = 0; i < wide.length; i++) {
            out[i] = Math.toIntExact(wide[i]);
        }
        return out;
    }

    /** The sizes of {@code t} ({@code t.shape()} as a copy; {@code []} for a scalar). */
    public static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }

    private static Tensor onDevice(Tensor blob, ScalarType dtype, FluxDevice device) {
        // from_blob does not own the pointer's memory (freed with the scope): clone first, the one
        // copy into LibTorch-owned memory when nothing else copies.
        boolean cpu = !device.isCuda();
        if (cpu && Torch.dtype(blob) == dtype) {
            return blob.clone();
        }
        return blob.to(device.toTorch(), dtype); // another device or dtype: always a new tensor
    }

    private static Tensor hostCopy(Tensor t, ScalarType dtype) {
        if (t.isNull()) {
            throw new IllegalArgumentException("the tensor is freed (null)");
        }
        return t.to(new Device(DeviceType.CPU), dtype).contiguous();
    }

    private static void checkCount(int length, long[] shape) {
        long count = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative size");
            }
            count = Math.multiplyExact(count, s);
        }
        if (count != length) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " holds " + count + " values, but the array has " + length);
        }
    }
}
