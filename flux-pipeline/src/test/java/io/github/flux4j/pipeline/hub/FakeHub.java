package io.github.flux4j.pipeline.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A local Hugging Face Hub speaking the protocol {@code huggingface_hub} uses, for tests (and for
 * {@code tools/reference/hub_cache_layout.py}, which points the Python library at it): JDK only.
 *
 * <ul>
 *   <li>{@code GET /api/models/{repo}/revision/{rev}}: {@code sha} and {@code siblings};</li>
 *   <li>{@code GET /api/models/{repo}/tree/{rev}?recursive=true}: files with {@code oid}, {@code size}
 *       and {@code lfs}, paginated ({@value #PAGE} entries a page, {@code Link: <...>; rel="next"});</li>
 *   <li>{@code HEAD|GET /{repo}/resolve/{rev}/{path}}: small files served here with {@code ETag} (git blob
 *       sha1) and {@code X-Repo-Commit}; LFS files ({@code *.safetensors}, {@code *.gguf}) as a 302 to a
 *       second host, with {@code X-Linked-Etag} (sha256) and {@code X-Linked-Size};</li>
 *   <li>the second host serves LFS blobs with {@code Range} support;</li>
 *   <li>401/403 {@code GatedRepo} for gated repositories, 401 {@code RepoNotFound}, 404
 *       {@code RevisionNotFound} / {@code EntryNotFound}.</li>
 * </ul>
 *
 * Faults can be injected: a blob served with one byte flipped, or a connection dropped after some
 * bytes (once). Every request is logged for assertions.
 */
public final class FakeHub implements AutoCloseable {
    static final int PAGE = 3;
    /** The repository of {@link #standard()}: a small diffusers-like pipeline with two revisions. */
    public static final String PIPE = "flux4j-test/tiny-pipe";
    /** A repository of one GGUF file (and a README). */
    public static final String GGUF = "flux4j-test/tiny-gguf";
    /** A gated repository; {@link #GATED_TOKEN} has access. */
    public static final String GATED = "flux4j-test/gated";

    public static final String GATED_TOKEN = "hf_granted";
    public static final String PIPE_MAIN = "4a1f0c2e9b3d5a7c8e6f1b2d4c6a8e0f1a3b5c7d";
    public static final String PIPE_V1 = "0b9e8d7c6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d";
    public static final String GGUF_MAIN = "7e3c1a9b5d2f4e6a8c0b1d3f5a7c9e2b4d6f8a0c";
    public static final String GATED_MAIN = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

    private final HttpServer api;
    private final HttpServer cdn;
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
    private final Set<String> corrupt = ConcurrentHashMap.newKeySet();
    private final Map<String, Long> dropOnce = new ConcurrentHashMap<>();
    private final Map<String, Long> stallOnce = new ConcurrentHashMap<>();
    private final List<String> log = new CopyOnWriteArrayList<>();

    /** A repository: branch/tag to commit, commit to files. */
    private record Repo(Map<String, String> refs, Map<String, Map<String, byte[]>> commits, boolean gated) {}

    /** Starts both hosts on the loopback interface, ephemeral ports. */
    public FakeHub() throws IOException {
        InetAddress lo = InetAddress.getLoopbackAddress();
        api = HttpServer.create(new InetSocketAddress(lo, 0), 0);
        cdn = HttpServer.create(new InetSocketAddress(lo, 0), 0);
        api.createContext("/", this::handleApi);
        cdn.createContext("/", this::handleCdn);
        api.setExecutor(Executors.newCachedThreadPool(daemon()));
        cdn.setExecutor(Executors.newCachedThreadPool(daemon()));
        api.start();
        cdn.start();
    }

    private static java.util.concurrent.ThreadFactory daemon() {
        return r -> {
            Thread t = new Thread(r, "fake-hub");
            t.setDaemon(true);
            return t;
        };
    }

    /** A hub with {@link #PIPE}, {@link #GGUF} and {@link #GATED}. */
    public static FakeHub standard() throws IOException {
        FakeHub hub = new FakeHub();
        Map<String, byte[]> v1 = new TreeMap<>();
        v1.put(
                "model_index.json",
                text("{\n  \"_class_name\": \"FluxPipeline\",\n  \"_diffusers_version\": \"0.30.0\"\n}\n"));
        v1.put("scheduler/scheduler_config.json", text("{\"shift\": 3.0}\n"));
        v1.put("text_encoder/config.json", text("{\"hidden_size\": 32}\n"));
        v1.put("text_encoder/model.safetensors", bytes(70_000, 1));
        v1.put("tokenizer/vocab.json", text("{\"a\": 0}\n"));
        v1.put("README.md", text("# tiny pipe\n"));
        Map<String, byte[]> main = new TreeMap<>(v1);
        main.put(
                "model_index.json",
                text("{\n  \"_class_name\": \"FluxPipeline\",\n  \"_diffusers_version\": \"0.32.0\"\n}\n"));
        main.put("tokenizer/merges.txt", text("#version: 0.2\na b\n"));
        main.put("text_encoder_2/config.json", text("{\"d_model\": 64}\n"));
        main.put("text_encoder_2/model-00001-of-00002.safetensors", bytes(50_000, 2));
        main.put("text_encoder_2/model-00002-of-00002.safetensors", bytes(40_000, 3));
        main.put("text_encoder_2/model.safetensors.index.json", text("{\"weight_map\": {}}\n"));
        main.put("transformer/config.json", text("{\"num_layers\": 1}\n"));
        main.put("transformer/diffusion_pytorch_model.safetensors", bytes(120_000, 4));
        main.put("vae/config.json", text("{\"block_out_channels\": [1, 2]}\n"));
        main.put("vae/diffusion_pytorch_model.safetensors", bytes(30_000, 5));
        hub.addRepo(PIPE, Map.of("main", PIPE_MAIN, "v1", PIPE_V1), Map.of(PIPE_MAIN, main, PIPE_V1, v1), false);
        Map<String, byte[]> gguf = new TreeMap<>();
        gguf.put("model-Q8_0.gguf", bytes(300_000, 6));
        gguf.put("README.md", text("# tiny gguf\n"));
        hub.addRepo(GGUF, Map.of("main", GGUF_MAIN), Map.of(GGUF_MAIN, gguf), false);
        Map<String, byte[]> gated = new TreeMap<>();
        gated.put("config.json", text("{}\n"));
        gated.put("weights.safetensors", bytes(1000, 7));
        hub.addRepo(GATED, Map.of("main", GATED_MAIN), Map.of(GATED_MAIN, gated), true);
        return hub;
    }

    static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Deterministic pseudo-random content (a 64-bit LCG's high bytes). */
    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        long x = seed * 0x9E3779B97F4A7C15L;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            b[i] = (byte) (x >>> 56);
        }
        return b;
    }

    /** Adds (or replaces) a repository. */
    public void addRepo(String id, Map<String, String> refs, Map<String, Map<String, byte[]>> commits, boolean gated) {
        repos.put(id, new Repo(Map.copyOf(refs), Map.copyOf(commits), gated));
        for (Map<String, byte[]> files : commits.values()) {
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                if (isLfs(f.getKey())) {
                    blobs.put(sha256(f.getValue()), f.getValue());
                }
            }
        }
    }

    /** The API host, as {@code HF_ENDPOINT}. */
    public String endpoint() {
        return "http://127.0.0.1:" + api.getAddress().getPort();
    }

    /** Serves the LFS blob {@code sha256} with its first byte flipped from now on. */
    public void corrupt(String sha256) {
        corrupt.add(sha256);
    }

    /** Closes the next download of LFS blob {@code sha256} after {@code afterBytes} bytes. */
    public void dropOnce(String sha256, long afterBytes) {
        dropOnce.put(sha256, afterBytes);
    }

    /** Stops sending the next download of LFS blob {@code sha256} after {@code afterBytes} bytes, without closing. */
    public void stallOnce(String sha256, long afterBytes) {
        stallOnce.put(sha256, afterBytes);
    }

    /** Every request so far: {@code "METHOD path"}, plus {@code " Range=..."} and {@code " auth"} when sent. */
    public List<String> log() {
        return Collections.unmodifiableList(log);
    }

    /** The file {@code path} of {@code repo} at {@code commit}. */
    public byte[] file(String repo, String commit, String path) {
        return repos.get(repo).commits().get(commit).get(path);
    }

    static boolean isLfs(String path) {
        return path.endsWith(".safetensors") || path.endsWith(".gguf");
    }

    static String sha256(byte[] b) {
        return hex("SHA-256", b);
    }

    static String gitBlobSha1(byte[] b) {
        byte[] head = ("blob " + b.length + "\0").getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[head.length + b.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(b, 0, all, head.length, b.length);
        return hex("SHA-1", all);
    }

    private static String hex(String algorithm, byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] lfsPointer(byte[] content) {
        return text("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256(content) + "\nsize "
                + content.length + "\n");
    }

    // ------------------------------------------------------------------------------ API host

    private void handleApi(HttpExchange ex) throws IOException {
        try (ex) {
            String raw = ex.getRequestURI().getRawPath();
            logRequest(ex, raw);
            List<String> seg = new ArrayList<>();
            for (String s : raw.substring(1).split("/", -1)) {
                seg.add(URLDecoder.decode(s, StandardCharsets.UTF_8));
            }
            if (seg.size() >= 6 && seg.get(0).equals("api") && seg.get(1).equals("models")) {
                String repoId = seg.get(2) + "/" + seg.get(3);
                Repo repo = repos.get(repoId);
                if (repo == null) {
                    error(ex, 401, "RepoNotFound", "Repository not found");
                    return;
                }
                String commit = commitOf(repo, seg.get(5));
                if (commit == null) {
                    error(ex, 404, "RevisionNotFound", "Invalid rev id: " + seg.get(5));
                    return;
                }
                if (seg.get(4).equals("revision") && seg.size() == 6) {
                    modelInfo(ex, repoId, repo, commit);
                    return;
                }
                if (seg.get(4).equals("tree")) {
                    tree(ex, repo.commits().get(commit), ex.getRequestURI().getRawQuery());
                    return;
                }
            }
            if (seg.size() >= 5 && seg.get(2).equals("resolve")) {
                String repoId = seg.get(0) + "/" + seg.get(1);
                resolve(ex, repoId, seg.get(3), String.join("/", seg.subList(4, seg.size())));
                return;
            }
            error(ex, 404, null, "Not found: " + raw);
        }
    }

    private void logRequest(HttpExchange ex, String path) {
        String range = ex.getRequestHeaders().getFirst("Range");
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        log.add(ex.getRequestMethod() + " " + path + (range != null ? " Range=" + range : "")
                + (auth != null ? " auth" : ""));
    }

    private static String commitOf(Repo repo, String rev) {
        if (repo.commits().containsKey(rev)) {
            return rev;
        }
        return repo.refs().get(rev);
    }

    private void modelInfo(HttpExchange ex, String repoId, Repo repo, String commit) throws IOException {
        StringBuilder siblings = new StringBuilder();
        for (String path : repo.commits().get(commit).keySet()) {
            siblings.append(siblings.length() == 0 ? "" : ",")
                    .append("{\"rfilename\":\"")
                    .append(path)
                    .append("\"}");
        }
        json(
                ex,
                "{\"_id\":\"" + repoId.replace('/', '-') + "\",\"id\":\"" + repoId + "\",\"modelId\":\"" + repoId
                        + "\",\"sha\":\"" + commit + "\",\"private\":false,\"gated\":"
                        + (repo.gated() ? "\"manual\"" : "false")
                        + ",\"disabled\":false,\"downloads\":0,\"likes\":0,\"tags\":[],"
                        + "\"createdAt\":\"2024-08-01T00:00:00.000Z\",\"lastModified\":\"2024-08-02T00:00:00.000Z\","
                        + "\"siblings\":[" + siblings + "]}",
                Map.of());
    }

    private void tree(HttpExchange ex, Map<String, byte[]> files, String query) throws IOException {
        // Folders first where they start, then files, in path order (as the Hub lists them recursively).
        TreeSet<String> dirs = new TreeSet<>();
        for (String p : files.keySet()) {
            for (int i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
                dirs.add(p.substring(0, i));
            }
        }
        List<String> entries = new ArrayList<>();
        TreeMap<String, String> all = new TreeMap<>();
        for (String d : dirs) {
            all.put(
                    d,
                    "{\"type\":\"directory\",\"oid\":\"" + gitBlobSha1(text(d)) + "\",\"size\":0,\"path\":\"" + d
                            + "\"}");
        }
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            byte[] c = f.getValue();
            String e;
            if (isLfs(f.getKey())) {
                byte[] pointer = lfsPointer(c);
                e = "{\"type\":\"file\",\"oid\":\"" + gitBlobSha1(pointer) + "\",\"size\":" + c.length
                        + ",\"lfs\":{\"oid\":\""
                        + sha256(c) + "\",\"size\":" + c.length + ",\"pointerSize\":" + pointer.length + "},\"path\":\""
                        + f.getKey() + "\"}";
            } else {
                e = "{\"type\":\"file\",\"oid\":\"" + gitBlobSha1(c) + "\",\"size\":" + c.length + ",\"path\":\""
                        + f.getKey() + "\"}";
            }
            all.put(f.getKey(), e);
        }
        entries.addAll(all.values());
        int cursor = 0;
        if (query != null) {
            for (String kv : query.split("&")) {
                if (kv.startsWith("cursor=")) {
                    cursor = Integer.parseInt(kv.substring(7));
                }
            }
        }
        int end = Math.min(entries.size(), cursor + PAGE);
        Map<String, String> headers = new LinkedHashMap<>();
        if (end < entries.size()) {
            String q = query == null ? "" : query.replaceAll("&?cursor=\\d+", "");
            headers.put(
                    "Link",
                    "<" + endpoint() + ex.getRequestURI().getRawPath() + "?" + (q.isEmpty() ? "" : q + "&") + "cursor="
                            + end + ">; rel=\"next\"");
        }
        json(ex, "[" + String.join(",", entries.subList(cursor, end)) + "]", headers);
    }

    private void resolve(HttpExchange ex, String repoId, String rev, String path) throws IOException {
        Repo repo = repos.get(repoId);
        if (repo == null) {
            error(ex, 401, "RepoNotFound", "Repository not found");
            return;
        }
        if (repo.gated()) {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null) {
                error(
                        ex,
                        401,
                        "GatedRepo",
                        "Access to model " + repoId + " is restricted. You must have access to it"
                                + " and be authenticated to access it. Please log in.");
                return;
            }
            if (!auth.equals("Bearer " + GATED_TOKEN)) {
                error(
                        ex,
                        403,
                        "GatedRepo",
                        "Access to model " + repoId + " is restricted and you are not in the"
                                + " authorized list. Visit https://huggingface.co/" + repoId + " to ask for access.");
                return;
            }
        }
        String commit = commitOf(repo, rev);
        if (commit == null) {
            error(ex, 404, "RevisionNotFound", "Invalid rev id: " + rev);
            return;
        }
        byte[] content = repo.commits().get(commit).get(path);
        if (content == null) {
            ex.getResponseHeaders().set("X-Repo-Commit", commit);
            error(ex, 404, "EntryNotFound", "Entry not found");
            return;
        }
        ex.getResponseHeaders().set("X-Repo-Commit", commit);
        ex.getResponseHeaders().set("Accept-Ranges", "bytes");
        if (isLfs(path)) {
            String sha = sha256(content);
            ex.getResponseHeaders().set("ETag", "\"" + gitBlobSha1(lfsPointer(content)) + "\"");
            ex.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
            ex.getResponseHeaders().set("X-Linked-Size", Long.toString(content.length));
            ex.getResponseHeaders()
                    .set(
                            "Location",
                            "http://localhost:" + cdn.getAddress().getPort() + "/lfs/" + sha + "?X-Signature=fake");
            ex.sendResponseHeaders(302, -1);
            return;
        }
        ex.getResponseHeaders().set("ETag", "\"" + gitBlobSha1(content) + "\"");
        send(ex, content, ex.getRequestHeaders().getFirst("Range"), false, -1);
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        try (ex) {
            String raw = ex.getRequestURI().getRawPath();
            logRequest(ex, "cdn:" + raw);
            byte[] content = raw.startsWith("/lfs/") ? blobs.get(raw.substring(5)) : null;
            if (content == null) {
                error(ex, 404, null, "No such blob");
                return;
            }
            String sha = raw.substring(5);
            if (corrupt.contains(sha)) {
                content = content.clone();
                content[0] ^= 1;
            }
            Long drop = dropOnce.remove(sha);
            Long stall = stallOnce.remove(sha);
            if (stall != null) {
                ex.sendResponseHeaders(200, content.length);
                ex.getResponseBody().write(content, 0, stall.intValue());
                ex.getResponseBody().flush();
                try {
                    Thread.sleep(60_000); // a connection that goes silent
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException("stalled on purpose");
            }
            send(ex, content, ex.getRequestHeaders().getFirst("Range"), true, drop == null ? -1 : drop);
        }
    }

    /** Sends {@code content}, or the {@code bytes=N-} part a Range asks for (206). */
    private static void send(HttpExchange ex, byte[] content, String range, boolean ranges, long dropAfter)
            throws IOException {
        int from = 0;
        int status = 200;
        if (range != null && ranges) {
            if (!range.startsWith("bytes=") || !range.endsWith("-")) {
                error(ex, 400, null, "only bytes=N- ranges");
                return;
            }
            from = Integer.parseInt(range.substring(6, range.length() - 1));
            if (from >= content.length) {
                ex.getResponseHeaders().set("Content-Range", "bytes */" + content.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            status = 206;
            ex.getResponseHeaders()
                    .set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
        }
        int length = content.length - from;
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", Integer.toString(length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, length);
        OutputStream out = ex.getResponseBody();
        if (dropAfter >= 0 && dropAfter < length) {
            out.write(content, from, (int) dropAfter);
            out.flush();
            // Abandon the exchange mid-body: the server closes the connection, the client sees it end early.
            throw new IOException("dropped on purpose");
        }
        out.write(content, from, length);
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        if (code != null) {
            ex.getResponseHeaders().set("X-Error-Code", code);
        }
        ex.getResponseHeaders().set("X-Error-Message", message);
        byte[] body = text("{\"error\":\"" + message.replace("\"", "'") + "\"}");
        ex.getResponseHeaders().set("Content-Type", "application/json");
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
    }

    private static void json(HttpExchange ex, String body, Map<String, String> headers) throws IOException {
        byte[] b = text(body);
        headers.forEach((k, v) -> ex.getResponseHeaders().set(k, v));
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(200, b.length);
        ex.getResponseBody().write(b);
    }

    @Override
    public void close() {
        api.stop(0);
        cdn.stop(0);
        ((java.util.concurrent.ExecutorService) api.getExecutor()).shutdownNow();
        ((java.util.concurrent.ExecutorService) cdn.getExecutor()).shutdownNow();
    }

    /** Runs {@link #standard()} until killed, printing {@code endpoint <url>} on one line (for the reference script). */
    public static void main(String[] args) throws Exception {
        FakeHub hub = standard();
        System.out.println("endpoint " + hub.endpoint());
        System.out.flush();
        Thread.currentThread().join();
    }
}
