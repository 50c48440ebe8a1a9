package io.github.flux4j.core.torch;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The floating-point type activations and dequantized weights are computed in.
 *
 * <p>{@link #BF16} is the default: it is what the reference diffusers pipeline runs FLUX in, so
 * only BF16 can match its output bit for bit. {@link #F16} overflows inside FLUX's text encoders
 * and {@link #F32} doubles memory and is mainly useful for tests and CPU reference runs.
 */
public enum ComputeDtype {
    /** bfloat16, the default. */
    BF16(ScalarType.BFloat16),
    /** IEEE float16. */
    F16(ScalarType.Half),
    /** IEEE float32. */
    F32(ScalarType.Float);

    private final ScalarType scalarType;

    ComputeDtype(ScalarType scalarType) {
        this.scalarType = scalarType;
    }

    /** The default compute dtype, {@link #BF16}. */
    public static ComputeDtype defaultDtype() {
        return BF16;
    }

    /** The LibTorch scalar type. */
    public ScalarType scalarType() {
        return scalarType;
    }
}
