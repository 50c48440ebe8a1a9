package io.github.flux4j.core.weights.source;

import io.github.flux4j.gguf.GgmlType;
import java.util.Optional;

/**
 * The element types a safetensors header may name, with their sizes. Only {@link #F32},
 * {@link #F16} and {@link #BF16} can be loaded as FLUX weights ({@link #ggmlType()}); the others
 * are recognised so that a file holding them still opens and the error names the tensor.
 */
public enum SafetensorsDtype {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E5M2(1),
    F8_E4M3(1),
    F8_E8M0(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    I64(8),
    U64(8),
    F64(8);

    private final int byteSize;

    SafetensorsDtype(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The GGML type with the same bit layout, for the three float types weights may use. */
    public Optional<GgmlType> ggmlType() {
        return switch (this) {
            case F32 -> Optional.of(GgmlType.F32);
            case F16 -> Optional.of(GgmlType.F16);
            case BF16 -> Optional.of(GgmlType.BF16);
            default -> Optional.empty();
        };
    }

    /** The dtype with this header name (as written in the JSON, e.g. {@code "BF16"}). */
    public static Optional<SafetensorsDtype> fromHeaderName(String name) {
        for (SafetensorsDtype d : values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
