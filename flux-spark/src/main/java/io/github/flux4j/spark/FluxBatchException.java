package io.github.flux4j.spark;

import io.github.flux4j.FluxException;

/**
 * A batch could not run or did not finish: a bad request table, a request that failed with
 * fail-fast on, a pipeline that could not load, an output that could not be written. The message
 * says which; Spark's exception is the cause.
 */
public class FluxBatchException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** An exception with a message. */
    public FluxBatchException(String message) {
        super(message);
    }

    /** An exception with a message and its cause. */
    public FluxBatchException(String message, Throwable cause) {
        super(message, cause);
    }
}
