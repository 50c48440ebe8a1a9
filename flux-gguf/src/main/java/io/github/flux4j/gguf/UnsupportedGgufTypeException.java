package io.github.flux4j.gguf;

import org.jspecify.annotations.Nullable;

/**
 * A tensor has a valid GGML type that this library cannot convert (for example IQ2_XXS). The
 * message names the type and, when known, the tensor.
 */
public class UnsupportedGgufTypeException extends GgufException {
    private static final long serialVersionUID = 1L;

    private final GgmlType type;
    private final @Nullable String tensorName;

    /**
     * @param type       the unsupported type
     * @param tensorName the tensor concerned, or null
     * @param operation  what was attempted, e.g. "dequantization"
     */
    public UnsupportedGgufTypeException(GgmlType type, @Nullable String tensorName, String operation) {
        super((tensorName == null ? "" : "tensor '" + tensorName + "': ") + operation + " of GGML type " + type
                + " is not supported");
        this.type = type;
        this.tensorName = tensorName;
    }

    /** The unsupported type. */
    public GgmlType type() {
        return type;
    }

    /** The tensor, or null when the operation was not about a named tensor. */
    public @Nullable String tensorName() {
        return tensorName;
    }
}
