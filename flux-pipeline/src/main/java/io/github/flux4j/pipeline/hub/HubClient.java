package io.github.flux4j.pipeline.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Hub's HTTP protocol as {@code huggingface_hub} uses it: revision info, the recursive tree
 * listing, {@code HEAD} on {@code resolve} URLs for a file's commit, ETag, size and download
 * location, and ranged {@code GET}s. Redirects are followed by hand: to the same host always
 * (renamed repositories), to another host (the LFS storage) only for the download, without the
 * token.
 */
final class HubClient {
    private static final Logger LOG = LoggerFactory.getLogger(HubClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");
    private static final int MAX_REDIRECTS = 5;
    /** Attempts for a request or a download (a download resumes where the broken attempt stopped). */
    static final int ATTEMPTS = 5;

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "flux4j-hub-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final HttpClient http;
    private final URI endpoint;
    private final @Nullable String token;
    private final Duration timeout;
    private final String userAgent;
    private volatile long retryDelayMillis = 1000;

    /** A file's metadata from its {@code resolve} URL. */
    record FileMeta(String commit, String etag, long size, URI location) {}

    /** One file of a tree listing ({@code lfs*} null for a file stored in git). */
    record TreeFile(
            String path,
            long size,
            String blobId,
            @Nullable String lfsSha256,
            @Nullable Long lfsSize,
            @Nullable String xetHash) {}

    HubClient(URI endpoint, @Nullable String token, Duration timeout) {
        this.endpoint = endpoint;
        this.token = token;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1) // one connection per parallel download
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(timeout)
                .build();
        Package p = HubClient.class.getPackage();
        String version = p != null && p.getImplementationVersion() != null ? p.getImplementationVersion() : "dev";
        this.userAgent = "flux4j/" + version + "; java/" + System.getProperty("java.version");
    }

    /** For tests: the pause between attempts. */
    void retryDelayMillis(long millis) {
        this.retryDelayMillis = millis;
    }

    // ------------------------------------------------------------------------------ API

    /** The commit {@code revision} of {@code repoId} points to ({@code GET /api/models/{repo}/revision/{rev}}). */
    String commitOf(String repoId, String revision) throws IOException {
        URI uri = uri("/api/models/" + repoId + "/revision/" + encode(revision, false));
        HttpResponse<byte[]> r =
                send(request(uri, "GET"), HttpResponse.BodyHandlers.ofByteArray(), repoId, revision, null);
        JsonNode info = parse(r, uri);
        JsonNode sha = info.get("sha");
        if (sha == null || !sha.isTextual() || !HubFiles.isCommit(sha.asText())) {
            throw new HubException(
                    HubException.Kind.PROTOCOL,
                    uri + " returned no commit hash ('sha'); is " + endpoint + " a Hugging Face Hub endpoint?");
        }
        return sha.asText();
    }

    /** Every file of {@code repoId} at {@code commit} ({@code GET /api/models/{repo}/tree/{commit}?recursive=true}, all pages). */
    List<TreeFile> tree(String repoId, String commit) throws IOException {
        List<TreeFile> files = new ArrayList<>();
        URI uri = uri("/api/models/" + repoId + "/tree/" + commit + "?recursive=true&expand=false");
        for (int page = 0; uri != null; page++) {
            if (page > 100_000) {
                throw new HubException(HubException.Kind.PROTOCOL, "the tree listing of " + repoId + " does not end");
            }
            HttpResponse<byte[]> r =
                    send(request(uri, "GET"), HttpResponse.BodyHandlers.ofByteArray(), repoId, commit, null);
            JsonNode list = parse(r, uri);
            if (!list.isArray()) {
                throw new HubException(HubException.Kind.PROTOCOL, uri + " returned no JSON array");
            }
            for (JsonNode e : list) {
                if (!"file".equals(e.path("type").asText())) {
                    continue;
                }
                String path = e.path("path").asText("");
                if (!HubPath.isRepoPath(path) || !e.path("size").canConvertToLong()) {
                    throw new HubException(
                            HubException.Kind.PROTOCOL, uri + " lists a file without a valid path or" + " size: " + e);
                }
                JsonNode lfs = e.get("lfs");
                files.add(new TreeFile(
                        path,
                        e.get("size").asLong(),
                        e.path("oid").asText(""),
                        lfs != null && lfs.hasNonNull("oid") ? lfs.get("oid").asText() : null,
                        lfs != null && lfs.hasNonNull("size") ? lfs.get("size").asLong() : null,
                        e.hasNonNull("xetHash") ? e.get("xetHash").asText() : null));
            }
            uri = nextPage(r);
        }
        return files;
    }

    private static @Nullable URI nextPage(HttpResponse<?> r) {
        for (String link : r.headers().allValues("Link")) {
            Matcher m = NEXT_LINK.matcher(link);
            if (m.find()) {
                return URI.create(m.group(1));
            }
        }
        return null;
    }

    private static JsonNode parse(HttpResponse<byte[]> r, URI uri) throws HubException {
        try {
            JsonNode n = JSON.readTree(r.body());
            if (n == null) {
                throw new IOException("empty body");
            }
            return n;
        } catch (IOException e) {
            throw new HubException(HubException.Kind.PROTOCOL, uri + " returned no valid JSON: " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------ files

    /**
     * {@code HEAD /{repo}/resolve/{rev}/{path}}: same-host redirects followed, a redirect elsewhere
     * (LFS storage) taken as the download location.
     */
    FileMeta head(String repoId, String revision, String path) throws IOException {
        URI uri = uri("/" + repoId + "/resolve/" + encode(revision, false) + "/" + encode(path, true));
        for (int i = 0; i <= MAX_REDIRECTS; i++) {
            HttpRequest.Builder req = request(uri, "HEAD").header("Accept-Encoding", "identity");
            HttpResponse<Void> r = send(req, HttpResponse.BodyHandlers.discarding(), repoId, revision, path);
            int status = r.statusCode();
            String location = r.headers().firstValue("Location").orElse(null);
            boolean redirect = status >= 300 && status < 400 && location != null;
            URI target = redirect ? uri.resolve(location) : uri;
            if (redirect && sameHost(uri, target)) {
                uri = target;
                continue;
            }
            String commit = r.headers().firstValue("X-Repo-Commit").orElse(null);
            if (commit == null || !HubFiles.isCommit(commit)) {
                throw new HubException(
                        HubException.Kind.PROTOCOL,
                        uri + " answered without an X-Repo-Commit header;" + " is " + endpoint
                                + " (HF_ENDPOINT) a Hugging Face Hub endpoint?");
            }
            String etag = r.headers()
                    .firstValue("X-Linked-Etag")
                    .or(() -> r.headers().firstValue("ETag"))
                    .orElse(null);
            etag = normalizeEtag(etag);
            if (etag == null || !isSafeEtag(etag)) {
                throw new HubException(
                        HubException.Kind.PROTOCOL,
                        uri + " answered without a usable ETag (" + etag
                                + "); flux4j needs it to name the cached file");
            }
            String size = r.headers()
                    .firstValue("X-Linked-Size")
                    .or(() ->
                            redirect ? java.util.Optional.empty() : r.headers().firstValue("Content-Length"))
                    .orElse(null);
            long n = -1;
            if (size != null) {
                try {
                    n = Long.parseLong(size.strip());
                } catch (NumberFormatException e) {
                    n = -1;
                }
            }
            return new FileMeta(commit, etag, n, target);
        }
        throw new HubException(HubException.Kind.PROTOCOL, "more than " + MAX_REDIRECTS + " redirects for " + uri);
    }

    /** {@code W/"x"} or {@code "x"} to {@code x}, as {@code huggingface_hub} names blobs. */
    static @Nullable String normalizeEtag(@Nullable String etag) {
        if (etag == null) {
            return null;
        }
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e.isEmpty() ? null : e;
    }

    /** An ETag used as a file name must not leave the blobs folder. */
    private static boolean isSafeEtag(String etag) {
        return etag.matches("[A-Za-z0-9._+=-]{1,200}") && !etag.startsWith(".");
    }

    /**
     * Downloads {@code url} into {@code part}, continuing after the bytes already there with a
     * {@code Range} request (starting over if the server ignores it), retrying broken transfers.
     * Returns when the server's body has been written in full.
     *
     * @param size     the expected size, or -1
     * @param progress told each number of bytes written (the bytes already present first)
     * @param cancelled polled between buffers; true stops the download (an {@link InterruptedIOException})
     */
    void download(URI url, Path part, long size, LongConsumer progress, BooleanSupplier cancelled) throws IOException {
        long have = Files.exists(part) ? Files.size(part) : 0;
        if (size >= 0 && have > size) {
            Files.delete(part); // longer than the file: not a prefix of it
            have = 0;
        }
        if (have > 0) {
            LOG.info("resuming {} at byte {}", part.getFileName(), have);
            progress.accept(have);
        }
        IOException last = null;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            if (size >= 0 && have == size) {
                return;
            }
            IOException failure;
            try {
                have = transfer(url, part, have, progress, cancelled);
                if (size < 0 || have == size) {
                    return;
                }
                failure = new IOException("the server sent " + have + " of " + size + " bytes");
            } catch (HubException | InterruptedIOException e) {
                throw e;
            } catch (IOException e) {
                failure = e;
                have = Files.exists(part) ? Files.size(part) : 0;
            }
            last = failure;
            LOG.warn(
                    "download of {} broke at byte {} ({}); attempt {} of {}",
                    url.getPath(),
                    have,
                    failure.getMessage(),
                    attempt,
                    ATTEMPTS);
            pause(attempt);
        }
        throw new HubException(
                HubException.Kind.NETWORK,
                "the download of " + url.getHost() + url.getPath()
                        + " broke " + ATTEMPTS + " times (last: " + (last == null ? "none" : last.getMessage())
                        + "); run again to resume from byte "
                        + have,
                last);
    }

    /** One GET from {@code have}; returns the bytes now in {@code part}. */
    private long transfer(URI url, Path part, long have, LongConsumer progress, BooleanSupplier cancelled)
            throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(url)
                .GET()
                .header("User-Agent", userAgent)
                .header("Accept-Encoding", "identity");
        if (sameHost(endpoint, url) && token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (have > 0) {
            b.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("download interrupted");
        }
        int status = r.statusCode();
        try (InputStream in = r.body()) {
            boolean append;
            if (status == 206) {
                String range = r.headers().firstValue("Content-Range").orElse("");
                if (!range.startsWith("bytes " + have + "-")) {
                    // Not the part asked for: start over rather than splice the wrong bytes.
                    LOG.warn(
                            "{} answered Range bytes={}- with Content-Range '{}'; downloading it whole",
                            url.getHost(),
                            have,
                            range);
                    progress.accept(-have);
                    Files.write(part, new byte[0]);
                    return 0;
                }
                append = true;
            } else if (status == 200) {
                append = false; // the whole file (the server ignored Range)
                if (have > 0) {
                    progress.accept(-have);
                    have = 0;
                }
            } else if (status == 416 && have > 0) {
                return have; // nothing after what we have: complete (the size check decides)
            } else {
                throw statusError(status, r.headers(), url, null, null, null);
            }
            AtomicLong lastProgress = new AtomicLong(System.nanoTime());
            java.util.concurrent.atomic.AtomicBoolean stalled = new java.util.concurrent.atomic.AtomicBoolean();
            // A stalled connection would block read() forever: close the stream after a silent timeout.
            ScheduledFuture<?> watchdog = WATCHDOG.scheduleAtFixedRate(
                    () -> {
                        if (System.nanoTime() - lastProgress.get() > timeout.toNanos()) {
                            stalled.set(true);
                            try {
                                in.close();
                            } catch (IOException ignored) {
                                // closing is all we can do
                            }
                        }
                    },
                    timeout.toMillis(),
                    Math.max(100, timeout.toMillis() / 4),
                    TimeUnit.MILLISECONDS);
            try (OutputStream out = Files.newOutputStream(
                    part,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) >= 0) {
                    if (cancelled.getAsBoolean()) {
                        throw new InterruptedIOException("download cancelled");
                    }
                    out.write(buf, 0, n);
                    have += n;
                    lastProgress.set(System.nanoTime());
                    progress.accept(n);
                }
            } catch (IOException e) {
                if (stalled.get() && !(e instanceof InterruptedIOException)) {
                    throw new IOException("no data for " + timeout.toMillis() + " ms", e);
                }
                throw e;
            } finally {
                watchdog.cancel(false);
            }
            return have;
        }
    }

    // ------------------------------------------------------------------------------ requests

    private HttpRequest.Builder request(URI uri, String method) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .method(method, HttpRequest.BodyPublishers.noBody())
                .timeout(timeout)
                .header("User-Agent", userAgent);
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    private <T> HttpResponse<T> send(
            HttpRequest.Builder request,
            HttpResponse.BodyHandler<T> body,
            String repoId,
            @Nullable String revision,
            @Nullable String path)
            throws IOException {
        HttpRequest req = request.build();
        HubException last = null;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            try {
                HttpResponse<T> r = http.send(req, body);
                int s = r.statusCode();
                if (s < 400) {
                    return r;
                }
                HubException e = statusError(s, r.headers(), req.uri(), repoId, revision, path);
                if (s != 429 && s < 500) {
                    throw e;
                }
                last = e;
            } catch (HubException e) {
                throw e;
            } catch (ConnectException | HttpConnectTimeoutException e) {
                throw new HubException(
                        HubException.Kind.NETWORK,
                        "the Hub cannot be reached at " + endpoint + " ("
                                + (e.getMessage() != null
                                        ? e.getMessage()
                                        : e.getClass().getSimpleName()) + ")",
                        e);
            } catch (HttpTimeoutException e) {
                last = new HubException(HubException.Kind.NETWORK, req.uri() + " did not answer within " + timeout, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted");
            } catch (IOException e) {
                last = new HubException(
                        HubException.Kind.NETWORK, req.method() + " " + req.uri() + " failed: " + e.getMessage(), e);
            }
            if (attempt < ATTEMPTS) {
                pause(attempt);
            }
        }
        throw last != null
                ? last
                : new HubException(HubException.Kind.NETWORK, req.method() + " " + req.uri() + " was not sent");
    }

    private void pause(int attempt) throws InterruptedIOException {
        try {
            Thread.sleep(Math.min(8, 1L << (attempt - 1)) * retryDelayMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }

    /** The Hub's error answers ({@code X-Error-Code}) as messages that say what to do. */
    private HubException statusError(
            int status,
            java.net.http.HttpHeaders h,
            URI uri,
            @Nullable String repoId,
            @Nullable String revision,
            @Nullable String path) {
        String code = h.firstValue("X-Error-Code").orElse("");
        String serverMessage = h.firstValue("X-Error-Message")
                .map(m -> " (the Hub says: " + m + ")")
                .orElse("");
        String repo = repoId != null ? repoId : uri.toString();
        String page = endpoint.toString().replaceAll("/+$", "") + "/" + repo;
        if (code.equals("GatedRepo")) {
            return new HubException(
                    HubException.Kind.GATED,
                    repo + " is a gated repository"
                            + (token == null
                                    ? " and no Hugging Face token is set: accept its licence at " + page
                                            + " (logged in), then log in"
                                            + " here with `hf auth login` or set HF_TOKEN to a token of that account (read access)"
                                    : " and the token used has no access to it: accept its licence at " + page
                                            + " with the account"
                                            + " of the token (HF_TOKEN, or the one `hf auth login` saved), or use a token of an account that"
                                            + " has accepted it")
                            + serverMessage);
        }
        if (code.equals("RepoNotFound") || (status == 401 && code.isEmpty())) {
            return new HubException(
                    HubException.Kind.NOT_FOUND,
                    repo + " was not found on " + endpoint
                            + (token == null
                                    ? ": check the repository id; if it is private, log in with `hf auth login` or"
                                            + " set HF_TOKEN"
                                    : ": check the repository id; if it is private, the token used has no access")
                            + serverMessage);
        }
        if (code.equals("RevisionNotFound")) {
            return new HubException(
                    HubException.Kind.NOT_FOUND,
                    "revision '" + revision + "' of " + repo + " does not exist on " + endpoint
                            + " (a branch, tag or commit of " + page + ")" + serverMessage);
        }
        if (code.equals("EntryNotFound") || (status == 404 && path != null)) {
            return new HubException(
                    HubException.Kind.NOT_FOUND,
                    (path != null ? path : uri.getPath()) + " is not in "
                            + repo + (revision != null ? "@" + revision : "") + " (see " + page + "/tree/"
                            + (revision != null ? revision : "main") + ")" + serverMessage);
        }
        if (status == 401 || status == 403) {
            return new HubException(
                    HubException.Kind.GATED,
                    "access to " + uri + " denied (HTTP " + status + ")" + serverMessage
                            + "; log in with `hf auth login` or set HF_TOKEN");
        }
        if (status == 404) {
            return new HubException(HubException.Kind.NOT_FOUND, uri + " not found (HTTP 404)" + serverMessage);
        }
        return new HubException(
                status == 429 || status >= 500 ? HubException.Kind.NETWORK : HubException.Kind.PROTOCOL,
                uri + " answered HTTP " + status + serverMessage);
    }

    private URI uri(String pathAndQuery) {
        return URI.create(endpoint.toString().replaceAll("/+$", "") + pathAndQuery);
    }

    private static boolean sameHost(URI a, URI b) {
        return a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost());
    }

    /** Percent-encodes all but RFC 3986's unreserved characters (and {@code /} where {@code keepSlash}). */
    static String encode(String s, boolean keepSlash) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '-'
                    || c == '.'
                    || c == '_'
                    || c == '~'
                    || (keepSlash && c == '/')) {
                out.append((char) c);
            } else {
                out.append('%').append(String.format(Locale.ROOT, "%02X", c));
            }
        }
        return out.toString();
    }
}
