package io.github.flux4j.core.nn;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.quant.TorchDequantizer;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * Builds layers and parameter tensors from GGUF (or any little-endian GGML-typed) bytes.
 *
 * <h2>Where the bytes go</h2>
 * The bytes are wrapped without copying ({@code from_blob} over the direct buffer) and then copied
 * exactly once into memory LibTorch owns: to the GPU for a CUDA device, or a CPU clone otherwise.
 * The result therefore never depends on the buffer after the call returns. That matters for GGUF
 * mappings: {@code GgufFile} unmaps a region when the last Java buffer over it becomes
 * unreachable, and a tensor pointing into it would not keep it reachable (a read after the unmap
 * would crash the JVM). The price on the CPU is one resident copy of each weight (the quantized
 * size for quantized types) instead of sharing the page cache.
 *
 * <h2>Types</h2>
 * Float types (F32, F16, BF16) are converted once, at load, to the compute dtype (RNE) and become a
 * {@link DenseLinear}, as diffusers does for unquantized GGUF tensors. Block-quantized types stay
 * packed and become a {@link QuantizedLinear} that expands them on every forward.
 */
public final class Linears {
    private Linears() {}

    /**
     * A linear layer from GGUF bytes, with float32 dequantization arithmetic
     * ({@link DequantArithmetic#EXACT_FLOAT32}).
     *
     * @see #fromGguf(GgmlType, ByteBuffer, long, long, ByteBuffer, GgmlType, FluxDevice, ComputeDtype, DequantArithmetic)
     */
    public static LinearOp fromGguf(
            GgmlType type,
            ByteBuffer bytes,
            long out,
            long in,
            @Nullable ByteBuffer biasBytes,
            @Nullable GgmlType biasType,
            FluxDevice device,
            ComputeDtype dtype) {
        return fromGguf(type, bytes, out, in, biasBytes, biasType, device, dtype, DequantArithmetic.EXACT_FLOAT32);
    }

    /**
     * A linear layer from GGUF bytes. The buffers are only read during the call (their positions
     * are left unchanged).
     *
     * @param type the weight's GGML type
     * @param bytes the weight's {@code type.byteSize(out * in)} bytes (from position to limit):
     *     {@code out} rows of {@code in} values, as GGUF stores a torch {@code [out, in]} weight
     * @param out output features
     * @param in input features
     * @param biasBytes the bias bytes ({@code out} values), or null for no bias
     * @param biasType the bias's GGML type (usually F32); required when {@code biasBytes} is given
     * @param device where the layer computes
     * @param dtype the compute dtype: float weights are converted to it, quantized ones expanded to it
     * @param arithmetic how quantized weights are expanded
     * @return a {@link DenseLinear} for F32/F16/BF16 weights, a {@link QuantizedLinear} otherwise;
     *     owned by the caller, who must close it
     * @throws UnsupportedGgufTypeException if a type cannot be dequantized
     * @throws IllegalArgumentException if a byte count does not match the shape, or a bias type is
     *     missing
     */
    public static LinearOp fromGguf(
            GgmlType type,
            ByteBuffer bytes,
            long out,
            long in,
            @Nullable ByteBuffer biasBytes,
            @Nullable GgmlType biasType,
            FluxDevice device,
            ComputeDtype dtype,
            DequantArithmetic arithmetic) {
        return fromGguf(
                type, bytes, out, in, biasBytes, biasType, device, dtype, arithmetic, WeightExpansion.defaults());
    }

    /**
     * As {@link #fromGguf(GgmlType, ByteBuffer, long, long, ByteBuffer, GgmlType, FluxDevice, ComputeDtype, DequantArithmetic)},
     * quantized weights expanded under the model's {@code expansion} policy.
     */
    public static LinearOp fromGguf(
            GgmlType type,
            ByteBuffer bytes,
            long out,
            long in,
            @Nullable ByteBuffer biasBytes,
            @Nullable GgmlType biasType,
            FluxDevice device,
            ComputeDtype dtype,
            DequantArithmetic arithmetic,
            WeightExpansion expansion) {
        if (!TorchDequantizer.isSupported(type)) {
            throw new UnsupportedGgufTypeException(type, null, "loading a linear weight");
        }
        if (out <= 0 || in <= 0) {
            throw new IllegalArgumentException("features must be positive, got out=" + out + ", in=" + in);
        }
        if (biasBytes != null && biasType == null) {
            throw new IllegalArgumentException("biasType is required when biasBytes is given");
        }
        try (PointerScope scope = new PointerScope()) {
            // Everything made here is freed with `scope` except what the layer retains.
            Tensor bias = biasBytes == null || biasType == null
                    ? null
                    : tensorFromGguf(biasType, biasBytes, new long[] {out}, device, dtype);
            if (type.isQuantized()) {
                Tensor raw = upload(bytes, weightBytes(type, out, in), device, type + " weight");
                return new QuantizedLinear(type, raw, out, in, bias, dtype.scalarType(), arithmetic, expansion);
            }
            return new DenseLinear(tensorFromGguf(type, bytes, new long[] {out, in}, device, dtype), bias);
        }
    }

    /**
     * A parameter tensor (norm scale, bias, embedding table, ...) from GGUF bytes, expanded or
     * converted to {@code dtype} (pass {@link ComputeDtype#F32} for float32) on {@code device}.
     *
     * @param shape the torch-order shape; {@code bytes} must hold exactly its element count of
     *     {@code type}
     * @return a new tensor, independent of {@code bytes}, owned by the enclosing PointerScope (or
     *     the caller when none is open): use {@link Scopes#keep} to store it beyond a scope
     * @throws UnsupportedGgufTypeException if {@code type} cannot be dequantized
     * @throws IllegalArgumentException if the byte count does not match {@code shape}
     */
    public static Tensor tensorFromGguf(
            GgmlType type, ByteBuffer bytes, long[] shape, FluxDevice device, ComputeDtype dtype) {
        if (!TorchDequantizer.isSupported(type)) {
            throw new UnsupportedGgufTypeException(type, null, "loading a tensor");
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
            }
            numel = Math.multiplyExact(numel, d);
        }
        long expected;
        try {
            expected = type.byteSize(numel);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + ": " + e.getMessage(), e);
        }
        long[] s = shape.clone();
        return Scopes.scoped(() -> {
            Tensor raw = upload(bytes, expected, device, type + " tensor " + Arrays.toString(s));
            // detach(): F32/F16/BF16 come back as a reinterpreting view of `raw`, and a view keeps
            // its base (raw's storage) alive through its autograd metadata. A weight moved later
            // by set_data (page-locked host copies, block streaming, device moves) would then
            // leave that storage behind: T5-XXL held twice in RAM. Same storage, no base.
            return TorchDequantizer.dequantize(raw, type, s, dtype.scalarType()).detach();
        });
    }

    private static long weightBytes(GgmlType type, long out, long in) {
        if (in % type.blockSize() != 0) {
            throw new IllegalArgumentException(
                    "in " + in + " is not a multiple of " + type + "'s block size " + type.blockSize());
        }
        return type.byteSize(Math.multiplyExact(out, in));
    }

    /**
     * {@code bytes} as a uint8 tensor on {@code device} that owns its memory (see the class doc),
     * in the enclosing scope.
     */
    private static Tensor upload(ByteBuffer bytes, long expected, FluxDevice device, String what) {
        int n = bytes.remaining();
        if (n != expected) {
            throw new IllegalArgumentException(what + ": buffer holds " + n + " bytes, expected " + expected);
        }
        return Scopes.scoped(() -> {
            BytePointer data;
            if (bytes.isDirect()) {
                // Zero copy: the pointer's position is the buffer's, which from_blob honours.
                data = new BytePointer(bytes);
            } else {
                byte[] copy = new byte[n];
                bytes.duplicate().get(copy);
                data = new BytePointer(copy);
            }
            Tensor host = torch.from_blob(data, new long[] {n}, new TensorOptions(ScalarType.Byte));
            // The one copy into LibTorch-owned memory; after it `bytes` is no longer referenced.
            return device.isCuda() ? host.to(device.toTorch(), ScalarType.Byte) : host.clone();
        });
    }
}
