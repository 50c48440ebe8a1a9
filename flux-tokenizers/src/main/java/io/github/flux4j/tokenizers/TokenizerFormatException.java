package io.github.flux4j.tokenizers;

import io.github.flux4j.FluxException;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * A tokenizer file that cannot be used: malformed, inconsistent or of an unsupported kind. The
 * message starts with the file. Unchecked, like every {@link FluxException}.
 */
public class TokenizerFormatException extends FluxException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final String reason;

    /** A problem with {@code file}, described by {@code reason}. */
    public TokenizerFormatException(Path file, String reason) {
        this(file, reason, null);
    }

    /** A problem with {@code file}, described by {@code reason}, caused by {@code cause}. */
    public TokenizerFormatException(Path file, String reason, @Nullable Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file.toString();
        this.reason = reason;
    }

    /** The file (its path as given). */
    public String file() {
        return file;
    }

    /** What is wrong, without the file name. */
    public String reason() {
        return reason;
    }
}
