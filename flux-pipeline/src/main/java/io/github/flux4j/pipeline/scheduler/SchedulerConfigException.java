package io.github.flux4j.pipeline.scheduler;

import io.github.flux4j.FluxException;
import org.jspecify.annotations.Nullable;

/**
 * A scheduler configuration that cannot be used: malformed JSON, a field of the wrong type, a value
 * out of range or not supported. The message names the file (or source) and the field.
 */
public class SchedulerConfigException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** An exception with the given message. */
    public SchedulerConfigException(String message) {
        super(message);
    }

    /** An exception with the given message and cause (if any). */
    public SchedulerConfigException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
