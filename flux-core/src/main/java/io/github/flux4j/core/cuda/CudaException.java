package io.github.flux4j.core.cuda;

import io.github.flux4j.FluxException;

/** A CUDA driver or NVRTC call failed; the message names the call and the error. */
public final class CudaException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** An exception with {@code message}. */
    public CudaException(String message) {
        super(message);
    }
}
