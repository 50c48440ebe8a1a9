package io.github.flux4j.pipeline.model;

import io.github.flux4j.FluxException;
import org.jspecify.annotations.Nullable;

/**
 * A model folder that cannot be used: missing, incomplete, not in the local Hugging Face cache, or
 * holding a configuration that is malformed or not FLUX's. The message names the folder and every
 * problem found. Failures of the file system itself are {@link io.github.flux4j.FluxIoException}s.
 */
public class ModelFolderException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** An exception with the given message. */
    public ModelFolderException(String message) {
        super(message);
    }

    /** An exception with the given message and cause (if any). */
    public ModelFolderException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
