package io.github.flux4j.pipeline.hub;

import io.github.flux4j.pipeline.model.HuggingFaceCache;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A file or folder in a Hugging Face model repository, as the command line and
 * {@link HubFiles#resolvePath(String, DownloadListener)} spell it:
 *
 * <pre>
 * city96/FLUX.1-dev-gguf/flux1-dev-Q8_0.gguf              the file at the default branch (main)
 * city96/FLUX.1-dev-gguf@v1.0/flux1-dev-Q8_0.gguf         at a branch, tag or 40-hex commit
 * hf://city96/FLUX.1-dev-gguf/flux1-dev-Q8_0.gguf         the same, with huggingface_hub's URI prefix
 * black-forest-labs/FLUX.1-dev/transformer                a folder: every file under it
 * </pre>
 *
 * The first two segments are the repository id ({@code org/name}); the revision, if any, follows
 * the name after {@code @} and cannot contain {@code /} (give a commit hash for {@code refs/pr/N});
 * the rest is the path in the repository.
 *
 * @param repoId   {@code org/name}
 * @param revision a branch, tag or commit; null for {@code main}
 * @param path     the path in the repository, {@code /}-separated, without {@code .} or {@code ..}
 */
public record HubPath(String repoId, @Nullable String revision, String path) {
    /** The URI prefix {@code huggingface_hub} uses for repository paths; optional here. */
    public static final String URI_PREFIX = "hf://";

    /** Checks the parts. */
    public HubPath {
        Objects.requireNonNull(repoId, "repoId");
        Objects.requireNonNull(path, "path");
        if (!HuggingFaceCache.isRepoId(repoId) || !repoId.contains("/")) {
            throw new IllegalArgumentException("'" + repoId + "' is not a Hugging Face repository id 'org/name'");
        }
        if (revision != null && (revision.isEmpty() || revision.contains("/"))) {
            throw new IllegalArgumentException(
                    "revision '" + revision + "' must be a non-empty branch, tag or commit" + " without '/'");
        }
        if (!isRepoPath(path)) {
            throw new IllegalArgumentException("'" + path + "' is not a path in a repository (non-empty, '/'-separated,"
                    + " no '.', '..' or empty segments)");
        }
    }

    /**
     * Parses {@code [hf://]org/name[@revision]/path}.
     *
     * @throws IllegalArgumentException naming what is wrong if {@code spec} does not have that form
     */
    public static HubPath parse(String spec) {
        Objects.requireNonNull(spec, "spec");
        String s = spec.startsWith(URI_PREFIX) ? spec.substring(URI_PREFIX.length()) : spec;
        int first = s.indexOf('/');
        int second = first < 0 ? -1 : s.indexOf('/', first + 1);
        if (first <= 0 || second < 0 || second == s.length() - 1) {
            throw new IllegalArgumentException("'" + spec + "' is not a Hugging Face file: expected"
                    + " 'org/name/path/in/repo' or 'org/name@revision/path/in/repo'");
        }
        String org = s.substring(0, first);
        String name = s.substring(first + 1, second);
        String revision = null;
        int at = name.indexOf('@');
        if (at >= 0) {
            revision = name.substring(at + 1);
            name = name.substring(0, at);
        }
        try {
            return new HubPath(org + "/" + name, revision, s.substring(second + 1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + spec + "' is not a Hugging Face file: " + e.getMessage(), e);
        }
    }

    /** {@link #parse}, or empty if {@code spec} does not have that form. */
    public static Optional<HubPath> tryParse(String spec) {
        try {
            return Optional.of(parse(spec));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Whether {@code path} is a relative {@code /}-separated path without empty, {@code .} or {@code ..} parts. */
    static boolean isRepoPath(String path) {
        if (path.isEmpty() || path.contains("\\") || path.indexOf('\0') >= 0) {
            return false;
        }
        for (String part : path.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return repoId + (revision != null ? "@" + revision : "") + "/" + path;
    }
}
