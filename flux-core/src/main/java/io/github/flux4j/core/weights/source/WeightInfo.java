package io.github.flux4j.core.weights.source;

import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.TensorShape;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One tensor as flux-core describes it above the file formats: what a {@link WeightSource}
 * presents (under the name a model binds, whatever the file called it) and what a
 * {@link SafetensorsFile} lists (under its stored name). GGUF files have their own record,
 * {@link io.github.flux4j.gguf.TensorInfo}, which a GGUF source turns into this one; both share
 * {@link TensorShape}'s rank, dimensions and element count.
 *
 * @param name       the name models bind to ({@code double_blocks.0.img_attn.qkv.weight},
 *                   without any {@code model.diffusion_model.} prefix), or the stored name where
 *                   a file lists its tensors
 * @param type       its element or block type, or {@code null} for a safetensors dtype that
 *                   weights cannot use (see {@link #storedType()})
 * @param storedType the type as the file names it ({@code Q4_K}, {@code BF16}, {@code F8_E4M3})
 * @param shape      its logical shape, row-major, in elements (also for block-quantized types)
 * @param byteSize   bytes of data
 * @param origin     where the bytes come from, for messages: stored name(s) and file
 */
public record WeightInfo(
        String name, @Nullable GgmlType type, String storedType, long[] shape, long byteSize, String origin)
        implements TensorShape {

    public WeightInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(storedType, "storedType");
        Objects.requireNonNull(origin, "origin");
        shape = shape.clone();
    }

    /** The same stored tensor presented under {@code newName} ({@code this} if the name is the same). */
    public WeightInfo withName(String newName) {
        return newName.equals(name) ? this : new WeightInfo(newName, type, storedType, shape, byteSize, origin);
    }

    /**
     * The same bytes presented with another shape of as many elements (a {@code [C, C, 1, 1]}
     * convolution weight read as a {@code [C, C]} linear one).
     *
     * @throws IllegalArgumentException if the element counts differ
     */
    public WeightInfo withShape(long... newShape) {
        if (Arrays.equals(newShape, shape)) {
            return this;
        }
        WeightInfo w = new WeightInfo(name, type, storedType, newShape, byteSize, origin);
        if (w.elementCount() != elementCount()) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(newShape) + " does not hold the "
                    + elementCount() + " elements of " + Arrays.toString(shape));
        }
        return w;
    }

    /** The shape (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
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
