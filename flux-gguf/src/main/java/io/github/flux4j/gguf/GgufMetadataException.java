package io.github.flux4j.gguf;

/** A metadata key is missing, or its value has another type than the one asked for. */
public class GgufMetadataException extends GgufException {
    private static final long serialVersionUID = 1L;

    public GgufMetadataException(String message) {
        super(message);
    }
}
