package io.github.flux4j.pipeline.hub;

import io.github.flux4j.FluxException;
import org.jspecify.annotations.Nullable;

/**
 * A Hugging Face Hub download failed; {@link #kind()} says why and the message says what to do
 * (accept a licence, log in, check the repository id, go online). Unchecked, like every
 * {@link FluxException}; the network's or the file system's {@link java.io.IOException}, if any, is
 * the cause.
 */
public class HubException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** Why a download failed. */
    public enum Kind {
        /** A gated repository the token (or its absence) gives no access to. */
        GATED,
        /** The repository, revision or file does not exist (or is private and the token has no access). */
        NOT_FOUND,
        /** Offline ({@code HF_HUB_OFFLINE} or unreachable Hub) and the files are not in the cache. */
        NOT_CACHED,
        /** A downloaded file does not match its size or hash (the ETag). */
        CORRUPT,
        /** The Hub answered with an unexpected status or response. */
        PROTOCOL,
        /** The Hub could not be reached or the connection broke (after retries). */
        NETWORK
    }

    private final Kind kind;

    /** An exception of {@code kind}. */
    public HubException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    /** An exception of {@code kind} with a cause. */
    public HubException(Kind kind, String message, @Nullable Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    /** Why it failed. */
    public Kind kind() {
        return kind;
    }
}
