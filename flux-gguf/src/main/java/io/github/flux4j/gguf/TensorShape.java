package io.github.flux4j.gguf;

import java.util.Arrays;

/**
 * What a tensor descriptor says about the tensor's shape. GGUF's {@link TensorInfo} and
 * flux-core's {@code WeightInfo} (the descriptor of every weight above the file formats) both
 * implement it, so rank, dimensions and element count have one definition.
 */
public interface TensorShape {
    /** The logical shape in row-major (PyTorch) order, outermost first, in elements; a copy. */
    long[] shape();

    /** Number of dimensions. */
    default int rank() {
        return shape().length;
    }

    /** Size of dimension {@code i} in row-major order; negative {@code i} counts from the end. */
    default long dim(int i) {
        long[] s = shape();
        return s[i < 0 ? s.length + i : i];
    }

    /** Number of elements (the product of the shape; 1 for a scalar). */
    default long elementCount() {
        long n = 1;
        for (long d : shape()) {
            n *= d;
        }
        return n;
    }

    /** True if the shape equals {@code expected}. */
    default boolean hasShape(long... expected) {
        return Arrays.equals(shape(), expected);
    }
}
