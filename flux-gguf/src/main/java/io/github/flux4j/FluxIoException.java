package io.github.flux4j;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The operating system failed an I/O operation flux4j needed: a file that does not exist or
 * cannot be read, a full disk, a broken connection. The {@link IOException} it wraps is the
 * {@linkplain #getCause() cause} (a {@link java.nio.file.NoSuchFileException},
 * {@link java.nio.file.AccessDeniedException}, ...), and the message names the file or
 * operation. What flux4j finds wrong with the content of a file that was read is not this but
 * another {@link FluxException} ({@code GgufFormatException}, {@code TokenizerFormatException},
 * ...). See {@code docs/errors.md}.
 */
public class FluxIoException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** An exception with {@code message}, caused by {@code cause}. */
    public FluxIoException(String message, IOException cause) {
        super(message, Objects.requireNonNull(cause, "cause"));
    }

    /**
     * {@code e} as a {@code FluxIoException}, with a message that names the file:
     * {@code "/models/ae.safetensors: no such file"}, {@code "/out: permission denied"}, or the
     * IOException's own message for other failures.
     */
    public static FluxIoException of(IOException e) {
        return new FluxIoException(describe(e), e);
    }

    /**
     * {@code e}, a failure while reading or writing {@code file}, as a {@code FluxIoException}
     * whose message names the file: as {@link #of(IOException)} where the failure already names
     * it (or a file inside it, such as a shard of a model folder), else prefixed with it
     * ({@code "/models/ae.safetensors: Input/output error"}). What public methods that read or
     * write files throw for the system's I/O failures.
     */
    public static FluxIoException of(Path file, IOException e) {
        String message = describe(e);
        String name = file.toString();
        return new FluxIoException(message.contains(name) ? message : name + ": " + message, e);
    }

    private static String describe(IOException e) {
        String reason = e instanceof FileSystemException f ? f.getReason() : e.getMessage();
        String what = e instanceof NoSuchFileException
                ? "no such file"
                : e instanceof AccessDeniedException
                        ? "permission denied"
                        : reason != null && !reason.isBlank()
                                ? reason
                                : e.getClass().getSimpleName();
        if (e instanceof FileSystemException f && f.getFile() != null) {
            String files = f.getOtherFile() == null ? f.getFile() : f.getFile() + " -> " + f.getOtherFile();
            return files + ": " + what + (reason != null && !reason.equals(what) ? " (" + reason + ")" : "");
        }
        return what;
    }

    /** The I/O failure underneath. */
    @Override
    public synchronized IOException getCause() {
        // The constructor set a non-null IOException, and Throwable lets no one replace a cause.
        return (IOException) Objects.requireNonNull(super.getCause(), "cause");
    }
}
