package io.github.flux4j.gguf;

/**
 * A tensor has a valid GGML type that this library cannot convert (for example IQ2_XXS). The
 * message names the type and, when known, the tensor.
 */
public class UnsupportedGgufTypeException extends GgufException {
    private static final long serialVersionUID = 1L;

    private final GgmlType type;
    private final String tensorName;

    public UnsupportedGgufTypeException(GgmlType type, String tensorName, String operation) {
        super((tensorName == null ? "" : "tensor '" + tensorName + "': ")
                + operation + " of GGML type " + type + " is not supported");
        this.type = type;
        this.tensorName = tensorName;
    }

    /** The unsupported type. */
    public GgmlType type() {
        return type;
    }

    /** The tensor, or null when the operation was not about a named tensor. */
    public String tensorName() {
        return tensorName;
    }
}
