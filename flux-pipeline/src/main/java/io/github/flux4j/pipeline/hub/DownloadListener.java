package io.github.flux4j.pipeline.hub;

/**
 * Progress of {@link HubFiles} downloads, for a progress bar. Called from download threads
 * (several at once with parallel downloads): implementations must be thread-safe. Nothing is
 * reported for files already in the cache.
 */
public interface DownloadListener {
    /** A listener that ignores everything. */
    DownloadListener NONE = new DownloadListener() {};

    /**
     * Downloads are about to start: {@code files} files of {@code repoId} totalling {@code bytes}
     * bytes (sizes the Hub announced; a resumed file counts whole, its present part is reported
     * through {@link #transferred} at once).
     */
    default void planned(String repoId, int files, long bytes) {}

    /** {@code bytes} more bytes are on disk (of any file being downloaded). */
    default void transferred(long bytes) {}

    /** {@code path} of {@code repoId} is downloaded, verified and linked into its snapshot. */
    default void finished(String repoId, String path) {}
}
