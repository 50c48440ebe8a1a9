package io.github.flux4j.pipeline.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.pipeline.model.HuggingFaceCache;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the hub cache the way {@code huggingface_hub} lays it out, so that both share it:
 *
 * <pre>
 * &lt;hub&gt;/CACHEDIR.TAG
 * &lt;hub&gt;/.locks/models--org--name/&lt;etag&gt;.lock     one lock file per blob (kept, empty)
 * &lt;hub&gt;/models--org--name/blobs/&lt;etag&gt;             contents, named by ETag (sha256 for LFS files, git sha1 else)
 * &lt;hub&gt;/models--org--name/refs/&lt;revision&gt;          the commit a branch or tag points to (no newline)
 * &lt;hub&gt;/models--org--name/snapshots/&lt;commit&gt;/path  relative symbolic links to ../../blobs/&lt;etag&gt;
 * &lt;hub&gt;/models--org--name/trees/&lt;commit&gt;.json      the commit's file listing (huggingface_hub 1.x)
 * </pre>
 *
 * A download goes to {@code blobs/<etag>.incomplete}, is resumed from there, and is moved to its
 * name only once its size and hash are checked.
 */
final class HubCache {
    private static final Logger LOG = LoggerFactory.getLogger(HubCache.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The cache directory tag standard's signature (bford.info/cachedir). */
    static final String CACHEDIR_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55";

    private static final int TREE_FORMAT = 1;
    private static final Map<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

    private final HuggingFaceCache cache;

    HubCache(HuggingFaceCache cache) {
        this.cache = cache;
    }

    Path hub() {
        return cache.hub();
    }

    Path repoFolder(String repoId) {
        return cache.repoFolder(repoId);
    }

    Path blob(String repoId, String etag) {
        return repoFolder(repoId).resolve("blobs").resolve(etag);
    }

    Path snapshot(String repoId, String commit) {
        return repoFolder(repoId).resolve("snapshots").resolve(commit);
    }

    Path pointer(String repoId, String commit, String path) {
        return snapshot(repoId, commit).resolve(path);
    }

    /** Marks the hub folder as a cache for backup tools, if nothing did yet. */
    void tag() throws IOException {
        Path tag = hub().resolve("CACHEDIR.TAG");
        if (!Files.exists(tag)) {
            Files.createDirectories(hub());
            writeAtomically(
                    tag,
                    CACHEDIR_SIGNATURE + "\n# The Hugging Face hub cache (written by flux4j; shared with"
                            + " huggingface_hub).\n# See https://bford.info/cachedir/\n");
        }
    }

    // ------------------------------------------------------------------------------ refs

    /** The commit {@code refs/<revision>} holds, or null. */
    @Nullable
    String readRef(String repoId, String revision) throws IOException {
        if (revision.contains("..") || revision.startsWith("/")) {
            return null;
        }
        Path ref = repoFolder(repoId).resolve("refs").resolve(revision);
        if (!Files.isRegularFile(ref)) {
            return null;
        }
        String commit = Files.readString(ref).strip();
        return HubFiles.isCommit(commit) ? commit : null;
    }

    /** Records that {@code revision} points to {@code commit} (nothing for a commit itself or an unchanged ref). */
    void writeRef(String repoId, String revision, String commit) throws IOException {
        if (revision.equals(commit) || revision.contains("..") || revision.startsWith("/")) {
            return;
        }
        Path ref = repoFolder(repoId).resolve("refs").resolve(revision);
        if (Files.isRegularFile(ref) && Files.readString(ref).equals(commit)) {
            return;
        }
        Files.createDirectories(ref.getParent());
        writeAtomically(ref, commit);
    }

    private static void writeAtomically(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling(
                file.getFileName() + "." + UUID.randomUUID().toString().substring(0, 8) + ".tmp");
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            move(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    // ------------------------------------------------------------------------------ trees

    /** The cached listing of {@code commit}, or null if there is none (or it cannot be read). */
    @Nullable
    List<HubClient.TreeFile> readTree(String repoId, String commit) {
        Path file = repoFolder(repoId).resolve("trees").resolve(commit + ".json");
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            JsonNode root = JSON.readTree(file.toFile());
            JsonNode files = root == null ? null : root.get("files");
            if (root.path("format_version").asInt() != TREE_FORMAT || files == null || !files.isObject()) {
                return null;
            }
            List<HubClient.TreeFile> out = new ArrayList<>();
            for (Map.Entry<String, JsonNode> e : files.properties()) {
                JsonNode v = e.getValue();
                if (!HubPath.isRepoPath(e.getKey()) || !v.path("size").canConvertToLong()) {
                    return null;
                }
                out.add(new HubClient.TreeFile(
                        e.getKey(),
                        v.get("size").asLong(),
                        v.path("blob_id").asText(""),
                        v.hasNonNull("lfs_sha256") ? v.get("lfs_sha256").asText() : null,
                        v.hasNonNull("lfs_size") ? v.get("lfs_size").asLong() : null,
                        v.hasNonNull("xet_hash") ? v.get("xet_hash").asText() : null));
            }
            return out;
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring unreadable tree listing {}: {}", file, e.toString());
            return null;
        }
    }

    /**
     * Saves the listing of {@code commit} as {@code huggingface_hub} does (its {@code json.dump}
     * with {@code indent=1}, files sorted by path), so that either library can reuse it.
     */
    void writeTree(String repoId, String commit, List<HubClient.TreeFile> files) throws IOException {
        TreeMap<String, HubClient.TreeFile> sorted = new TreeMap<>(HubCache::compareCodePoints);
        for (HubClient.TreeFile f : files) {
            sorted.put(f.path(), f);
        }
        StringBuilder s = new StringBuilder("{\n \"format_version\": ")
                .append(TREE_FORMAT)
                .append(",\n \"files\": ");
        if (sorted.isEmpty()) {
            s.append("{}");
        } else {
            s.append("{\n");
            int i = 0;
            for (HubClient.TreeFile f : sorted.values()) {
                s.append("  ").append(pyString(f.path())).append(": {\n");
                s.append("   \"size\": ").append(f.size()).append(",\n");
                s.append("   \"blob_id\": ").append(pyString(f.blobId()));
                if (f.lfsSha256() != null) {
                    s.append(",\n   \"lfs_sha256\": ").append(pyString(f.lfsSha256()));
                    s.append(",\n   \"lfs_size\": ")
                            .append(f.lfsSize() == null ? "null" : f.lfsSize().toString());
                }
                if (f.xetHash() != null) {
                    s.append(",\n   \"xet_hash\": ").append(pyString(f.xetHash()));
                }
                s.append("\n  }").append(++i < sorted.size() ? ",\n" : "\n");
            }
            s.append(" }");
        }
        s.append("\n}");
        Path file = repoFolder(repoId).resolve("trees").resolve(commit + ".json");
        Files.createDirectories(file.getParent());
        writeAtomically(file, s.toString());
    }

    private static int compareCodePoints(String a, String b) {
        return java.util.Arrays.compare(a.codePoints().toArray(), b.codePoints().toArray());
    }

    /** A JSON string as Python's {@code json.dumps} writes it ({@code ensure_ascii}). */
    static String pyString(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    // ------------------------------------------------------------------------------ blobs, links, locks

    /** Runs {@code body} holding the blob's lock: across threads of this JVM and across processes. */
    <T extends @Nullable Object> T withBlobLock(String repoId, String etag, IoSupplier<T> body) throws IOException {
        Path lockFile = hub().resolve(".locks")
                .resolve(repoFolder(repoId).getFileName())
                .resolve(etag + ".lock");
        Files.createDirectories(lockFile.getParent());
        ReentrantLock jvm = JVM_LOCKS.computeIfAbsent(lockFile.toAbsolutePath().normalize(), p -> new ReentrantLock());
        jvm.lock();
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock ignored = ch.lock()) {
            return body.get();
        } finally {
            jvm.unlock();
        }
    }

    /** An I/O action. */
    interface IoSupplier<T extends @Nullable Object> {
        T get() throws IOException;
    }

    /**
     * Checks a downloaded file against its ETag: a 64-hex ETag is the file's sha256 (LFS), a
     * 40-hex one its git blob sha1; other ETags (not the Hub's) are not checked.
     *
     * @throws HubException of kind {@link HubException.Kind#CORRUPT} naming both hashes
     */
    static void verify(Path file, String etag, String what) throws IOException {
        String algorithm = etag.matches("[0-9a-f]{64}") ? "SHA-256" : etag.matches("[0-9a-f]{40}") ? "SHA-1" : null;
        if (algorithm == null) {
            return;
        }
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (algorithm.equals("SHA-1")) {
            md.update(("blob " + Files.size(file) + "\0").getBytes(StandardCharsets.US_ASCII));
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) >= 0) {
                md.update(buf, 0, n);
            }
        }
        String actual = HexFormat.of().formatHex(md.digest());
        if (!actual.equals(etag)) {
            throw new HubException(
                    HubException.Kind.CORRUPT,
                    what + " is corrupt: its " + (algorithm.equals("SHA-1") ? "git blob sha1" : "sha256") + " is "
                            + actual + ", the Hub's ETag says " + etag
                            + "; the download was discarded, run again to download it anew");
        }
    }

    /** Moves a checked download to its blob name. */
    static void publish(Path part, Path blob) throws IOException {
        move(part, blob);
    }

    /**
     * Points {@code pointer} at {@code blob} with a relative symbolic link, as {@code huggingface_hub}
     * does; where links cannot be made (Windows without developer mode) the blob is copied.
     */
    static void link(Path pointer, Path blob) throws IOException {
        Path folder = pointer.getParent();
        if (folder == null) {
            throw new IllegalArgumentException("a snapshot pointer must be inside its snapshot folder: " + pointer);
        }
        Files.createDirectories(folder);
        Path target = folder.toAbsolutePath()
                .normalize()
                .relativize(blob.toAbsolutePath().normalize());
        if (Files.isSymbolicLink(pointer)) {
            if (Files.readSymbolicLink(pointer).equals(target) && Files.exists(pointer)) {
                return;
            }
            Files.delete(pointer);
        } else if (Files.exists(pointer, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(pointer); // a stale copy
        }
        try {
            Files.createSymbolicLink(pointer, target);
        } catch (FileAlreadyExistsException e) {
            // another process linked it meanwhile
        } catch (UnsupportedOperationException | FileSystemException e) {
            LOG.warn(
                    "cannot create symbolic links in {} ({}); copying the file instead",
                    pointer.getParent(),
                    e.toString());
            Files.copy(blob, pointer, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
