package io.github.flux4j.gguf;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a GGUF file: the format's own descriptor, with the tensor's offset in the file
 * ({@link TensorShape} gives its rank, dimensions and element count).
 *
 * @param name       the tensor's name with a {@code model.diffusion_model.} prefix removed (the
 *                   name models bind to)
 * @param storedName the name exactly as stored in the file
 * @param type       its GGML type (each tensor has its own: files mix types)
 * @param shape      its logical shape in row-major (PyTorch) order, outermost first: GGUF stores
 *                   dims innermost first, so this is the stored order reversed, or the
 *                   {@code comfy.gguf.orig_shape.*} override where the file has one
 * @param offset     absolute byte offset of its data in the file
 * @param byteSize   bytes of data
 */
public record TensorInfo(String name, String storedName, GgmlType type, long[] shape, long offset, long byteSize)
        implements TensorShape {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(storedName, "storedName");
        Objects.requireNonNull(type, "type");
        shape = shape.clone();
    }

    /** The shape (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && storedName.equals(t.storedName)
                && type == t.type
                && Arrays.equals(shape, t.shape)
                && offset == t.offset
                && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, storedName, type, Arrays.hashCode(shape), offset, byteSize);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape) + " @" + offset + " (" + byteSize + " bytes)";
    }
}
