package io.github.flux4j.pipeline.hub;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.pipeline.model.HuggingFaceCache;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Files of Hugging Face model repositories, downloaded when missing into the shared Hugging Face
 * cache (laid out as {@code huggingface_hub} does it, so Python tools and flux4j share it), or
 * found there offline.
 *
 * <pre>{@code
 * HubFiles hub = HubFiles.fromEnvironment();   // HF_ENDPOINT, HF_TOKEN (or `hf auth login`'s file), HF_HUB_OFFLINE, HF_HOME...
 * HubSnapshot dev = hub.resolve("black-forest-labs/FLUX.1-dev", "main",
 *         List.of("model_index.json", "vae/*", "scheduler/*"));
 * Path gguf = hub.file("city96/FLUX.1-dev-gguf", null, "flux1-dev-Q8_0.gguf");
 * }</pre>
 *
 * <p>Only the files asked for are fetched, in parallel; each goes to
 * {@code blobs/<etag>.incomplete} first, resumes from there with an HTTP {@code Range} request
 * when a download broke (in this run or an earlier one), and is checked against its ETag (the
 * sha256 of an LFS file, the git blob sha1 of a small file) before it gets its name. Files
 * already cached cost no request when the revision is a commit hash, one for a branch or tag.
 * If the Hub cannot be reached, a revision already cached is used as is (with a warning).
 * Offline ({@code HF_HUB_OFFLINE=1} or {@link Builder#offline}), nothing is requested and a
 * missing file is an error naming it.
 *
 * <p>Thread-safe; concurrent downloads of one blob (threads or processes using this class) wait
 * for each other through {@code <hub>/.locks/}.
 */
public final class HubFiles {
    private static final Logger LOG = LoggerFactory.getLogger(HubFiles.class);
    /** The Hub's address when {@code HF_ENDPOINT} is not set. */
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    /** Parallel downloads by default (as {@code huggingface_hub}'s {@code max_workers}). */
    public static final int DEFAULT_PARALLELISM = 8;

    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    private static final Set<String> TRUE = Set.of("1", "ON", "YES", "TRUE");

    private final URI endpoint;
    private final @Nullable String token;
    private final HuggingFaceCache cache;
    private final HubCache layout;
    private final boolean offline;
    private final int parallelism;
    private final Duration timeout;
    private @Nullable HubClient client;
    private long retryDelayMillis = -1;

    private HubFiles(Builder b) {
        this.endpoint = b.endpoint;
        this.token = b.token;
        this.cache = b.cache;
        this.layout = new HubCache(b.cache);
        this.offline = b.offline;
        this.parallelism = b.parallelism;
        this.timeout = b.timeout;
    }

    /** The HTTP client, made on first use: an offline instance never starts one. */
    private synchronized HubClient client() {
        if (client == null) {
            client = new HubClient(endpoint, token, timeout);
            if (retryDelayMillis >= 0) {
                client.retryDelayMillis(retryDelayMillis);
            }
        }
        return client;
    }

    /** A builder with the defaults ({@link #DEFAULT_ENDPOINT}, no token, the environment's cache, online). */
    public static Builder builder() {
        return new Builder();
    }

    /** Settings from this process's environment (see {@link #fromEnvironment(Map, Path)}). */
    public static HubFiles fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /**
     * Settings from {@code env}, as {@code huggingface_hub} reads them: the cache as
     * {@link HuggingFaceCache#fromEnvironment(Map, Path)}; {@code HF_ENDPOINT}; the token from
     * {@code HF_TOKEN} (or the older {@code HUGGING_FACE_HUB_TOKEN}), else the file
     * {@code HF_TOKEN_PATH}, else {@code $HF_HOME/token} (what {@code hf auth login} writes);
     * offline when {@code HF_HUB_OFFLINE} (or {@code TRANSFORMERS_OFFLINE}) is 1, ON, YES or TRUE.
     *
     * @throws FluxIoException if the token file exists but cannot be read
     * @throws IllegalArgumentException if {@code HF_ENDPOINT} is not an http(s) URL
     */
    public static HubFiles fromEnvironment(Map<String, String> env, Path userHome) {
        Builder b = builder().cache(HuggingFaceCache.fromEnvironment(env, userHome));
        String ep = nonEmpty(env.get("HF_ENDPOINT"));
        if (ep != null) {
            b.endpoint(ep);
        }
        String token = nonEmpty(env.get("HF_TOKEN"));
        if (token == null) {
            token = nonEmpty(env.get("HUGGING_FACE_HUB_TOKEN"));
        }
        if (token == null) {
            String tokenPath = nonEmpty(env.get("HF_TOKEN_PATH"));
            Path file = tokenPath != null
                    ? HuggingFaceCache.expandHome(tokenPath, userHome)
                    : HuggingFaceCache.hfHome(env, userHome).resolve("token");
            if (Files.isRegularFile(file)) {
                try {
                    token = nonEmpty(Files.readString(file).strip());
                } catch (IOException e) {
                    throw new FluxIoException(
                            "cannot read the Hugging Face token file " + file + ": " + e.getMessage(), e);
                }
            }
        }
        b.token(token);
        b.offline(isTrue(env.get("HF_HUB_OFFLINE")) || isTrue(env.get("TRANSFORMERS_OFFLINE")));
        return b.build();
    }

    private static boolean isTrue(@Nullable String v) {
        return v != null && TRUE.contains(v.strip().toUpperCase(Locale.ROOT));
    }

    private static @Nullable String nonEmpty(@Nullable String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    static boolean isCommit(String s) {
        return COMMIT.matcher(s).matches();
    }

    /** The Hub's address. */
    public URI endpoint() {
        return endpoint;
    }

    /** The cache files go to. */
    public HuggingFaceCache cache() {
        return cache;
    }

    /** Whether nothing is downloaded (only the cache is read). */
    public boolean offline() {
        return offline;
    }

    /** Whether a token is sent. */
    public boolean hasToken() {
        return token != null;
    }

    /** The same settings, offline or not. */
    public HubFiles withOffline(boolean offline) {
        return offline == this.offline ? this : toBuilder().offline(offline).build();
    }

    private Builder toBuilder() {
        Builder b = builder()
                .cache(cache)
                .token(token)
                .offline(offline)
                .parallelism(parallelism)
                .timeout(timeout);
        b.endpoint = endpoint;
        return b;
    }

    // ------------------------------------------------------------------------------ snapshots

    /** {@link #resolve(String, String, Collection, DownloadListener)} without progress reports. */
    public HubSnapshot resolve(String repoId, @Nullable String revision, Collection<String> patterns) {
        return resolve(repoId, revision, patterns, DownloadListener.NONE);
    }

    /**
     * The files of {@code repoId} at {@code revision} whose paths match one of {@code patterns},
     * downloaded if missing: shell wildcards on the whole path ({@code *} also crosses {@code /};
     * {@code "vae/"} means everything under {@code vae/}), as {@code huggingface_hub}'s
     * {@code allow_patterns}. Records {@code refs/<revision>} and the commit's file listing
     * ({@code trees/<commit>.json}) as {@code snapshot_download} does.
     *
     * @param revision a branch, tag or commit; null for {@code main}
     * @throws HubException if the repository, revision or files cannot be had (gated, not found,
     *                      offline and not cached, corrupt download, network), saying what to do
     * @throws FluxIoException if the cache cannot be read or written
     */
    public HubSnapshot resolve(
            String repoId, @Nullable String revision, Collection<String> patterns, DownloadListener listener) {
        try {
            return snapshot(repoId, revision, patterns, listener);
        } catch (IOException e) {
            throw FluxIoException.of(cache.repoFolder(repoId), e);
        }
    }

    private HubSnapshot snapshot(
            String repoId, @Nullable String revision, Collection<String> patterns, DownloadListener listener)
            throws IOException {
        String rev = revision == null || revision.isEmpty() ? HuggingFaceCache.DEFAULT_REVISION : revision;
        cache.repoFolder(repoId); // validates the id
        List<Glob> globs = patterns.stream().map(Glob::of).toList();
        Objects.requireNonNull(listener, "listener");
        if (offline) {
            return cached(
                    repoId,
                    rev,
                    globs,
                    "downloads are off (HF_HUB_OFFLINE=1, --offline, or an offline HubFiles)",
                    null);
        }
        String commit;
        List<HubClient.TreeFile> tree;
        try {
            commit = isCommit(rev) ? rev : client().commitOf(repoId, rev);
            tree = layout.readTree(repoId, commit);
            if (tree == null) {
                tree = client().tree(repoId, commit);
                layout.writeTree(repoId, commit, tree);
            }
        } catch (HubException e) {
            if (e.kind() != HubException.Kind.NETWORK) {
                throw e;
            }
            LOG.warn("{}; using the cached {}@{}", e.getMessage(), repoId, rev);
            return cached(repoId, rev, globs, String.valueOf(e.getMessage()), e);
        }
        layout.tag();
        layout.writeRef(repoId, rev, commit);
        List<HubClient.TreeFile> wanted = tree.stream()
                .filter(f -> Glob.anyMatches(globs, f.path()))
                .sorted(Comparator.comparing(HubClient.TreeFile::path))
                .toList();
        if (wanted.isEmpty()) {
            throw new HubException(
                    HubException.Kind.NOT_FOUND,
                    "no file of " + repoId + "@" + rev + " matches " + patterns + " (it has " + tree.size()
                            + " files)");
        }
        List<HubClient.TreeFile> missing = new ArrayList<>();
        long bytes = 0;
        for (HubClient.TreeFile f : wanted) {
            Path pointer = layout.pointer(repoId, commit, f.path());
            if (!isCached(pointer, f.size())) {
                missing.add(f);
                bytes += f.size();
            }
        }
        if (!missing.isEmpty()) {
            LOG.info("downloading {} file(s) of {}@{} ({} bytes)", missing.size(), repoId, rev, bytes);
            listener.planned(repoId, missing.size(), bytes);
            runAll(missing.stream()
                    .map(f -> (IoTask) cancelled -> download(repoId, commit, f.path(), f.size(), listener, cancelled))
                    .toList());
        }
        Path folder = layout.snapshot(repoId, commit);
        return new HubSnapshot(
                repoId,
                commit,
                folder,
                wanted.stream().map(f -> folder.resolve(f.path())).toList());
    }

    private static boolean isCached(Path pointer, long size) throws IOException {
        // Files.size follows the link: a missing blob (broken link) or a truncated one is not cached.
        return Files.isRegularFile(pointer) && (size < 0 || Files.size(pointer) == size);
    }

    /** The cached snapshot, without requests: offline, or the Hub unreachable. */
    private HubSnapshot cached(String repoId, String rev, List<Glob> globs, String why, @Nullable Exception cause)
            throws IOException {
        String commit = isCommit(rev) ? rev : layout.readRef(repoId, rev);
        if (commit == null || !Files.isDirectory(layout.snapshot(repoId, commit))) {
            throw new HubException(
                    HubException.Kind.NOT_CACHED,
                    repoId + "@" + rev + " is not in the Hugging Face"
                            + " cache at " + cache.hub() + " and " + why + "; download it once online (or `hf download "
                            + repoId + (rev.equals(HuggingFaceCache.DEFAULT_REVISION) ? "" : " --revision " + rev)
                            + "`)",
                    cause);
        }
        Path folder = layout.snapshot(repoId, commit);
        List<HubClient.TreeFile> tree = layout.readTree(repoId, commit);
        List<String> paths = new ArrayList<>();
        List<String> absent = new ArrayList<>();
        if (tree != null) {
            // The listing says which files the revision has: each one asked for must be here.
            for (HubClient.TreeFile f : tree) {
                if (Glob.anyMatches(globs, f.path())) {
                    (isCached(folder.resolve(f.path()), f.size()) ? paths : absent).add(f.path());
                }
            }
        } else {
            try (Stream<Path> s = Files.walk(folder)) {
                s.filter(Files::isRegularFile)
                        .map(p -> folder.relativize(p).toString().replace('\\', '/'))
                        .filter(p -> Glob.anyMatches(globs, p))
                        .forEach(paths::add);
            }
        }
        if (!absent.isEmpty()) {
            absent.sort(null);
            throw new HubException(
                    HubException.Kind.NOT_CACHED,
                    repoId + "@" + rev + " is only partly in the cache at " + folder + " (missing: "
                            + String.join(", ", absent) + ") and " + why,
                    cause);
        }
        if (paths.isEmpty()) {
            throw new HubException(
                    HubException.Kind.NOT_CACHED,
                    "no file of the cached " + repoId + "@" + rev + " matches " + globs + " and " + why,
                    cause);
        }
        paths.sort(null);
        return new HubSnapshot(
                repoId, commit, folder, paths.stream().map(folder::resolve).toList());
    }

    // ------------------------------------------------------------------------------ single files

    /** {@link #file(String, String, String, DownloadListener)} without progress reports. */
    public Path file(String repoId, @Nullable String revision, String path) {
        return file(repoId, revision, path, DownloadListener.NONE);
    }

    /**
     * One file, downloaded if missing, as {@code hf_hub_download}: its path in the snapshot
     * folder. Records {@code refs/<revision>}.
     *
     * @throws HubException     as {@link #resolve}
     * @throws FluxIoException if the cache cannot be read or written
     */
    public Path file(String repoId, @Nullable String revision, String path, DownloadListener listener) {
        try {
            return fileOf(repoId, revision, path, listener);
        } catch (IOException e) {
            throw FluxIoException.of(cache.repoFolder(repoId), e);
        }
    }

    private Path fileOf(String repoId, @Nullable String revision, String path, DownloadListener listener)
            throws IOException {
        String rev = revision == null || revision.isEmpty() ? HuggingFaceCache.DEFAULT_REVISION : revision;
        cache.repoFolder(repoId);
        if (!HubPath.isRepoPath(path)) {
            throw new IllegalArgumentException("'" + path + "' is not a path in a repository");
        }
        if (offline) {
            return cachedFile(
                    repoId, rev, path, "downloads are off (HF_HUB_OFFLINE=1, --offline, or an offline HubFiles)", null);
        }
        if (isCommit(rev) && Files.isRegularFile(layout.pointer(repoId, rev, path))) {
            return layout.pointer(repoId, rev, path);
        }
        HubClient.FileMeta meta;
        try {
            meta = client().head(repoId, rev, path);
        } catch (HubException e) {
            if (e.kind() != HubException.Kind.NETWORK) {
                throw e;
            }
            LOG.warn("{}; using the cached {} of {}@{}", e.getMessage(), path, repoId, rev);
            return cachedFile(repoId, rev, path, String.valueOf(e.getMessage()), e);
        }
        layout.tag();
        layout.writeRef(repoId, rev, meta.commit());
        Path pointer = layout.pointer(repoId, meta.commit(), path);
        if (!isCached(pointer, meta.size())) {
            listener.planned(repoId, 1, Math.max(0, meta.size()));
            fetch(repoId, meta.commit(), path, meta, listener, () -> false);
        }
        return pointer;
    }

    private Path cachedFile(String repoId, String rev, String path, String why, @Nullable Exception cause)
            throws IOException {
        String commit = isCommit(rev) ? rev : layout.readRef(repoId, rev);
        Path pointer = commit == null ? null : layout.pointer(repoId, commit, path);
        if (pointer == null || !Files.isRegularFile(pointer)) {
            throw new HubException(
                    HubException.Kind.NOT_CACHED,
                    path + " of " + repoId + "@" + rev + " is not in the"
                            + " Hugging Face cache at " + cache.hub() + " and " + why
                            + "; download it once online (or `hf"
                            + " download " + repoId + " " + path + "`)",
                    cause);
        }
        return pointer;
    }

    /**
     * A local file or folder, or a file or folder of a Hub repository ({@link HubPath}'s syntax):
     * {@code spec} is used as a path if something exists there; else, read as
     * {@code org/name[@revision]/path}, the file is downloaded if missing, or, if the repository
     * has no such file, every file under the folder of that name.
     *
     * @throws FluxIoException if {@code spec} is neither an existing path nor a Hub path (its cause a
     *                         {@link NoSuchFileException}), or as {@link #resolve}
     * @throws HubException     as {@link #resolve}
     */
    public Path resolvePath(String spec, DownloadListener listener) {
        Objects.requireNonNull(spec, "spec");
        try {
            Path p = Path.of(spec);
            if (Files.exists(p)) {
                return p;
            }
        } catch (InvalidPathException e) {
            // not a local path; may still be a Hub path
        }
        Optional<HubPath> hp = HubPath.tryParse(spec);
        if (hp.isEmpty()) {
            throw FluxIoException.of(new NoSuchFileException(
                    spec, null, "no such file, and not a Hugging Face file" + " 'org/name[@revision]/path/in/repo'"));
        }
        return resolve(hp.get(), listener);
    }

    /**
     * A file or folder of a repository (see {@link #resolvePath}).
     *
     * @throws HubException as {@link #resolve}
     */
    public Path resolve(HubPath path, DownloadListener listener) {
        try {
            return file(path.repoId(), path.revision(), path.path(), listener);
        } catch (HubException e) {
            if (e.kind() != HubException.Kind.NOT_FOUND && e.kind() != HubException.Kind.NOT_CACHED) {
                throw e;
            }
            // Not a file: maybe a folder (a diffusers transformer/ folder, say).
            HubSnapshot s;
            try {
                s = resolve(path.repoId(), path.revision(), List.of(path.path() + "/"), listener);
            } catch (HubException folder) {
                if (folder.kind() == HubException.Kind.NOT_FOUND || folder.kind() == HubException.Kind.NOT_CACHED) {
                    e.addSuppressed(folder);
                    throw e;
                }
                throw folder;
            }
            return s.folder().resolve(path.path());
        }
    }

    // ------------------------------------------------------------------------------ downloading

    /** A download that stops when {@code cancelled} turns true. */
    private interface IoTask {
        void run(AtomicBoolean cancelled) throws IOException;
    }

    /** Runs the tasks {@link #parallelism} at a time; the first failure cancels the rest and is thrown. */
    private void runAll(List<IoTask> tasks) throws IOException {
        AtomicBoolean cancelled = new AtomicBoolean();
        if (tasks.size() == 1 || parallelism == 1) {
            for (IoTask t : tasks) {
                t.run(cancelled);
            }
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallelism, tasks.size()), r -> {
            Thread t = new Thread(r, "flux4j-hub-download");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (IoTask t : tasks) {
                futures.add(pool.submit(() -> {
                    if (!cancelled.get()) {
                        try {
                            t.run(cancelled);
                        } catch (IOException | RuntimeException e) {
                            cancelled.set(true);
                            throw e;
                        }
                    }
                    return null;
                }));
            }
            Throwable first = null;
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    // A cancelled download's exception only echoes the first failure.
                    if (first == null) {
                        first = c;
                    } else if (!(c instanceof InterruptedIOException)) {
                        first.addSuppressed(c);
                    }
                } catch (InterruptedException e) {
                    cancelled.set(true);
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while downloading");
                }
            }
            if (first instanceof IOException io) {
                throw io;
            }
            if (first instanceof RuntimeException re) {
                throw re;
            }
            if (first instanceof Error err) {
                throw err;
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private void download(
            String repoId, String commit, String path, long size, DownloadListener listener, AtomicBoolean cancelled)
            throws IOException {
        HubClient.FileMeta meta = client().head(repoId, commit, path);
        fetch(repoId, commit, path, meta, listener, cancelled::get);
    }

    /** Downloads (or reuses) the blob of {@code meta} and links it into the snapshot of {@code commit}. */
    private void fetch(
            String repoId,
            String commit,
            String path,
            HubClient.FileMeta meta,
            DownloadListener listener,
            java.util.function.BooleanSupplier cancelled)
            throws IOException {
        Path blob = layout.blob(repoId, meta.etag());
        layout.<@Nullable Void>withBlobLock(repoId, meta.etag(), () -> {
            if (Files.isRegularFile(blob, LinkOption.NOFOLLOW_LINKS)
                    && (meta.size() < 0 || Files.size(blob) == meta.size())) {
                listener.transferred(meta.size() < 0 ? Files.size(blob) : meta.size()); // shared with another snapshot
                return null;
            }
            Files.createDirectories(blob.getParent());
            Path part = blob.resolveSibling(meta.etag() + ".incomplete");
            long need = meta.size() - (Files.exists(part) ? Files.size(part) : 0);
            long free = Files.getFileStore(blob.getParent()).getUsableSpace();
            if (meta.size() > 0 && need > free) {
                throw new IOException("not enough disk space for " + path + " of " + repoId + ": it needs "
                        + need / 1_000_000 + " MB more, " + blob.getParent() + " has " + free / 1_000_000
                        + " MB free (set HF_HUB_CACHE or HF_HOME to a larger disk)");
            }
            client().download(meta.location(), part, meta.size(), listener::transferred, cancelled);
            long got = Files.size(part);
            if (meta.size() >= 0 && got != meta.size()) {
                Files.delete(part);
                throw new HubException(
                        HubException.Kind.CORRUPT,
                        path + " of " + repoId + ": downloaded " + got + " bytes, the Hub announced " + meta.size()
                                + "; discarded, run again");
            }
            try {
                HubCache.verify(part, meta.etag(), path + " of " + repoId + "@" + commit.substring(0, 8));
            } catch (HubException e) {
                Files.deleteIfExists(part);
                throw e;
            }
            HubCache.publish(part, blob);
            return null;
        });
        HubCache.link(layout.pointer(repoId, commit, path), blob);
        listener.finished(repoId, path);
    }

    /** Settings of a {@link HubFiles}. */
    public static final class Builder {
        private URI endpoint = URI.create(DEFAULT_ENDPOINT);
        private @Nullable String token;
        private HuggingFaceCache cache = HuggingFaceCache.fromEnvironment();
        private boolean offline;
        private int parallelism = DEFAULT_PARALLELISM;
        private Duration timeout = Duration.ofSeconds(30);

        private Builder() {}

        /**
         * The Hub's address ({@code HF_ENDPOINT}; a mirror or a local server).
         *
         * @throws IllegalArgumentException if it is not an http(s) URL
         */
        public Builder endpoint(String url) {
            URI u;
            try {
                u = URI.create(url.strip().replaceAll("/+$", ""));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("Hub endpoint '" + url + "' is not a URL", e);
            }
            if (u.getScheme() == null
                    || !(u.getScheme().equals("http") || u.getScheme().equals("https"))
                    || u.getHost() == null) {
                throw new IllegalArgumentException("Hub endpoint '" + url + "' is not an http(s) URL");
            }
            this.endpoint = u;
            return this;
        }

        /** The access token sent to the Hub (gated and private repositories); null for none. */
        public Builder token(@Nullable String token) {
            this.token = token == null || token.isBlank() ? null : token.strip();
            return this;
        }

        /** The cache to read and fill. */
        public Builder cache(HuggingFaceCache cache) {
            this.cache = Objects.requireNonNull(cache, "cache");
            return this;
        }

        /** Only read the cache; never make a request. */
        public Builder offline(boolean offline) {
            this.offline = offline;
            return this;
        }

        /** Files downloaded at once (default {@value HubFiles#DEFAULT_PARALLELISM}). */
        public Builder parallelism(int n) {
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("parallelism must be in 1..64, got " + n);
            }
            this.parallelism = n;
            return this;
        }

        /** Connect timeout, request timeout, and how long a download may stall (default 30 s). */
        public Builder timeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, got " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /** The configured {@link HubFiles}. */
        public HubFiles build() {
            return new HubFiles(this);
        }
    }

    /** For tests: the pause between retries. */
    synchronized void retryDelayMillis(long millis) {
        retryDelayMillis = millis;
        if (client != null) {
            client.retryDelayMillis(millis);
        }
    }

    @Override
    public String toString() {
        return "HubFiles[" + endpoint + ", cache " + cache.hub() + (offline ? ", offline" : "")
                + (token != null ? ", with token" : "") + "]";
    }
}
