package io.github.flux4j.pipeline.model;

import io.github.flux4j.FluxIoException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * The local Hugging Face hub cache, read the way {@code huggingface_hub} lays it out; this class
 * never downloads ({@link io.github.flux4j.pipeline.hub.HubFiles} does).
 *
 * <pre>
 * &lt;hub&gt;/models--black-forest-labs--FLUX.1-dev/
 *     refs/main                    the commit hash "main" points to
 *     snapshots/&lt;commit&gt;/...       the repository's files, as symbolic links into blobs/
 *     blobs/&lt;sha&gt;                  the file contents
 * </pre>
 *
 * <p>The hub folder is, as in {@code huggingface_hub}: {@code $HF_HUB_CACHE}, else the legacy
 * {@code $HUGGINGFACE_HUB_CACHE}, else {@code $HF_HOME/hub}, else
 * {@code $XDG_CACHE_HOME/huggingface/hub}, else {@code ~/.cache/huggingface/hub}. A leading
 * {@code ~} is expanded; other shell syntax ({@code $VAR} inside the values) is not.
 *
 * @param hub the hub folder (it need not exist: lookups then say the repository is not cached)
 */
public record HuggingFaceCache(Path hub) {
    /** The branch a revision defaults to. */
    public static final String DEFAULT_REVISION = "main";

    // huggingface_hub's validate_repo_id: "name" or "namespace/name", [\w.-], 1..96 characters,
    // no "--" or "..", not starting or ending with '-' or '.'.
    private static final Pattern REPO_PART = Pattern.compile("[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    /** Checks the path is present. */
    public HuggingFaceCache {
        Objects.requireNonNull(hub, "hub");
    }

    /** The cache this process's environment points to (see the class comment). */
    public static HuggingFaceCache fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /**
     * The cache {@code env} points to, with {@code userHome} for {@code ~}: testable form of
     * {@link #fromEnvironment()}.
     */
    public static HuggingFaceCache fromEnvironment(Map<String, String> env, Path userHome) {
        String hubCache = nonEmpty(env.get("HF_HUB_CACHE"));
        if (hubCache == null) {
            hubCache = nonEmpty(env.get("HUGGINGFACE_HUB_CACHE"));
        }
        if (hubCache != null) {
            return new HuggingFaceCache(expandHome(hubCache, userHome));
        }
        return new HuggingFaceCache(hfHome(env, userHome).resolve("hub"));
    }

    /**
     * The Hugging Face home folder (token file, hub cache): {@code $HF_HOME}, else
     * {@code $XDG_CACHE_HOME/huggingface}, else {@code ~/.cache/huggingface}.
     */
    public static Path hfHome(Map<String, String> env, Path userHome) {
        String home = nonEmpty(env.get("HF_HOME"));
        if (home != null) {
            return expandHome(home, userHome);
        }
        String xdg = nonEmpty(env.get("XDG_CACHE_HOME"));
        return (xdg != null ? expandHome(xdg, userHome) : userHome.resolve(".cache")).resolve("huggingface");
    }

    private static @Nullable String nonEmpty(@Nullable String s) {
        // os.getenv returns "" for a variable set empty, which huggingface_hub would use as a path; an
        // empty path is never what was meant, so it counts as unset here.
        return s == null || s.isEmpty() ? null : s;
    }

    /** {@code path} with a leading {@code ~} replaced by {@code userHome}. */
    public static Path expandHome(String path, Path userHome) {
        if (path.equals("~")) {
            return userHome;
        }
        if (path.startsWith("~/")) {
            return userHome.resolve(path.substring(2));
        }
        return Path.of(path);
    }

    /** Whether {@code s} has the form of a Hugging Face repository id ({@code "org/name"} or {@code "name"}). */
    public static boolean isRepoId(String s) {
        String[] parts = s.split("/", -1);
        if (parts.length > 2) {
            return false;
        }
        for (String p : parts) {
            if (!REPO_PART.matcher(p).matches() || p.contains("--") || p.contains("..")) {
                return false;
            }
        }
        return true;
    }

    /** The cache folder of a model repository: {@code models--org--name}. */
    public Path repoFolder(String repoId) {
        requireRepoId(repoId);
        return hub.resolve("models--" + repoId.replace("/", "--"));
    }

    /**
     * The snapshot folder of {@code repoId} at {@code revision}: a branch or tag resolved through
     * {@code refs/}, or a 40-hex commit hash used as is.
     *
     * @param revision a branch, tag or commit; null for {@code main}
     * @throws ModelFolderException if the repository, the revision or the snapshot is not in the
     *                              cache; the message says how to download it
     * @throws FluxIoException      if a ref file cannot be read
     */
    public Path snapshot(String repoId, @Nullable String revision) {
        try {
            return findSnapshot(repoId, revision);
        } catch (IOException e) {
            throw FluxIoException.of(repoFolder(repoId), e);
        }
    }

    private Path findSnapshot(String repoId, @Nullable String revision) throws IOException {
        String rev = revision == null || revision.isEmpty() ? DEFAULT_REVISION : revision;
        Path repo = repoFolder(repoId);
        if (!Files.isDirectory(repo)) {
            throw new ModelFolderException(repoId + " is not in the local Hugging Face cache at " + hub
                    + " (no folder " + repo.getFileName() + "); download it with `huggingface-cli download "
                    + repoId + "` (or `hf download " + repoId + "`), point HF_HUB_CACHE or HF_HOME at the cache"
                    + " that has it, give a local path, or let flux4j download it (the flux CLI does unless --offline;"
                    + " FluxPipeline.Builder.downloads(HubFiles))");
        }
        String commit;
        if (COMMIT.matcher(rev).matches()) {
            commit = rev;
        } else {
            if (rev.contains("..") || rev.startsWith("/")) {
                throw new ModelFolderException(
                        "revision '" + rev + "' of " + repoId + " is not a branch, tag or commit");
            }
            Path ref = repo.resolve("refs").resolve(rev);
            if (!Files.isRegularFile(ref)) {
                throw new ModelFolderException("revision '" + rev + "' of " + repoId
                        + " is not in the local Hugging Face cache at " + repo + " (no refs/" + rev + "; cached refs: "
                        + listRefs(repo) + "); download it with `huggingface-cli download " + repoId + " --revision "
                        + rev + "` or give a commit hash or a local path");
            }
            commit = Files.readString(ref).strip();
            if (!COMMIT.matcher(commit).matches()) {
                throw new ModelFolderException(ref + " should hold a 40-character commit hash, holds '" + commit + "'");
            }
        }
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        if (!Files.isDirectory(snapshot)) {
            throw new ModelFolderException("snapshot " + commit + " of " + repoId + " (revision " + rev
                    + ") is not in the local Hugging Face cache at " + repo.resolve("snapshots")
                    + "; download it with `huggingface-cli download " + repoId + " --revision " + rev
                    + "` or give a local path");
        }
        return snapshot;
    }

    private static List<String> listRefs(Path repo) throws IOException {
        Path refs = repo.resolve("refs");
        List<String> out = new ArrayList<>();
        if (Files.isDirectory(refs)) {
            try (Stream<Path> s = Files.walk(refs)) {
                s.filter(Files::isRegularFile)
                        .forEach(p -> out.add(refs.relativize(p).toString()));
            }
        }
        out.sort(null);
        return out;
    }

    private static void requireRepoId(String repoId) {
        Objects.requireNonNull(repoId, "repoId");
        if (!isRepoId(repoId)) {
            throw new IllegalArgumentException("'" + repoId + "' is not a Hugging Face repository id (expected "
                    + "'name' or 'namespace/name' of letters, digits, '-', '_' and '.', without '--' or '..')");
        }
    }
}
