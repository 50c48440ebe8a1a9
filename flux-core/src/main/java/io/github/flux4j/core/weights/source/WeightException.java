package io.github.flux4j.core.weights.source;

import io.github.flux4j.FluxException;

/**
 * Base of the unchecked exceptions about model weights: a malformed safetensors file, a weight
 * folder that is not what it claims to be, tensors that do not fit the model being built.
 * Failures of the file system itself are {@link io.github.flux4j.FluxIoException}s.
 */
public class WeightException extends FluxException {
    private static final long serialVersionUID = 1L;

    public WeightException(String message) {
        super(message);
    }

    public WeightException(String message, Throwable cause) {
        super(message, cause);
    }
}
