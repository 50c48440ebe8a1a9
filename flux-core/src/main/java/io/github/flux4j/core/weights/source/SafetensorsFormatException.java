package io.github.flux4j.core.weights.source;

import java.nio.file.Path;

/** A safetensors file whose header or layout is invalid. The message names the file and, where it applies, the tensor. */
public final class SafetensorsFormatException extends WeightException {
    private static final long serialVersionUID = 1L;

    public SafetensorsFormatException(Path file, String reason) {
        super(file + ": " + reason);
    }

    public SafetensorsFormatException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
    }
}
