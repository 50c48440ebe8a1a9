package io.github.flux4j.gguf;

import io.github.flux4j.FluxException;
import org.jspecify.annotations.Nullable;

/**
 * Base of the unchecked exceptions about GGUF content: a malformed file, a missing or mistyped
 * metadata key, an unsupported tensor type. Failures of the file system itself are
 * {@link io.github.flux4j.FluxIoException}s.
 */
public class GgufException extends FluxException {
    private static final long serialVersionUID = 1L;

    public GgufException(String message) {
        super(message);
    }

    public GgufException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
