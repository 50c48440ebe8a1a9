package io.github.flux4j.gguf;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * A file is not a valid GGUF file: bad magic, unsupported version, truncated, inconsistent
 * counts, sizes or offsets. The message names the file, the byte offset where reading failed
 * and the reason.
 */
public class GgufFormatException extends GgufException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final long offset;
    private final String reason;

    public GgufFormatException(Path file, long offset, String reason) {
        this(String.valueOf(file), offset, reason, null);
    }

    public GgufFormatException(String file, long offset, String reason, @Nullable Throwable cause) {
        super(file + ": invalid GGUF at byte " + offset + ": " + reason, cause);
        this.file = file;
        this.offset = offset;
        this.reason = reason;
    }

    /** The file (its path as given), or a description of the source. */
    public String file() {
        return file;
    }

    /** The byte offset in the file where the problem was found. */
    public long offset() {
        return offset;
    }

    /** What is wrong, without the file and offset. */
    public String reason() {
        return reason;
    }
}
