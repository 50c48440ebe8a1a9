package io.github.flux4j.core.weights.source;

import io.github.flux4j.gguf.GgmlType;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One tensor as a {@link WeightSource} presents it: under its BFL name, whatever the file called
 * it.
 *
 * @param name     the BFL name ({@code double_blocks.0.img_attn.qkv.weight}), without any
 *                 {@code model.diffusion_model.} prefix
 * @param type     its element or block type, or {@code null} for a safetensors dtype that FLUX
 *                 weights cannot use (see {@link #storedType()})
 * @param storedType the type as the file names it ({@code Q4_K}, {@code BF16}, {@code F8_E4M3})
 * @param shape    its logical shape, row-major, in elements (also for block-quantized types)
 * @param byteSize bytes of data
 * @param origin   where the bytes come from, for messages: file and stored name(s)
 */
public record WeightInfo(
        String name, @Nullable GgmlType type, String storedType, long[] shape, long byteSize, String origin) {

    public WeightInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(storedType, "storedType");
        Objects.requireNonNull(origin, "origin");
        shape = shape.clone();
    }

    /** The shape (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /** Number of elements. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** True if the shape equals {@code expected}. */
    public boolean hasShape(long... expected) {
        return Arrays.equals(shape, expected);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WeightInfo w
                && name.equals(w.name)
                && type == w.type
                && storedType.equals(w.storedType)
                && Arrays.equals(shape, w.shape)
                && byteSize == w.byteSize
                && origin.equals(w.origin);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, type, storedType, Arrays.hashCode(shape), byteSize, origin);
    }

    @Override
    public String toString() {
        return name + " " + storedType + " " + Arrays.toString(shape) + " (" + origin + ")";
    }
}
