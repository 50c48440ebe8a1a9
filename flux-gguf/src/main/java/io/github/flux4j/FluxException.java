package io.github.flux4j;

import org.jspecify.annotations.Nullable;

/**
 * Base of every exception flux4j throws on purpose, in every module: a GGUF or safetensors file
 * that is malformed, a model folder or configuration that cannot be used, a tokenizer file that
 * does not parse, a Hub download that failed, a generation that ran out of memory or was
 * cancelled, a CUDA call that failed, and an I/O failure of the system underneath
 * ({@link FluxIoException}). Unchecked, so that a caller can catch this one type around any flux4j
 * call; the message names the file, tensor or argument at fault. The subclasses, and the exit
 * status the {@code flux} CLI gives each, are listed in {@code docs/errors.md}.
 *
 * <p>Programming errors (a {@code null} where none is allowed, a closed object used, an argument
 * out of its documented range) stay the JDK's {@link IllegalArgumentException},
 * {@link IllegalStateException} and {@link NullPointerException}.
 */
public class FluxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** An exception with {@code message}. */
    public FluxException(String message) {
        super(message);
    }

    /** An exception with {@code message}, caused by {@code cause}. */
    public FluxException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
