package io.github.flux4j.pipeline.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.pipeline.model.HuggingFaceCache;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link HubFiles} against {@link FakeHub}: resuming, verification, gated and missing repositories, offline use. */
class HubFilesTest {
    private static final String GGUF_FILE = "model-Q8_0.gguf";

    @TempDir
    Path home;

    private FakeHub server;
    private Path hubDir;

    @BeforeEach
    void start() throws IOException {
        server = FakeHub.standard();
        hubDir = home.resolve("hub");
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HubFiles hub() {
        return hub(null);
    }

    private HubFiles hub(String token) {
        HubFiles h = HubFiles.builder()
                .endpoint(server.endpoint())
                .cache(new HuggingFaceCache(hubDir))
                .token(token)
                .build();
        h.retryDelayMillis(1);
        return h;
    }

    private byte[] gguf() {
        return server.file(FakeHub.GGUF, FakeHub.GGUF_MAIN, GGUF_FILE);
    }

    private Path ggufBlob() {
        return hubDir.resolve("models--flux4j-test--tiny-gguf/blobs").resolve(FakeHub.sha256(gguf()));
    }

    @Test
    void resumesADownloadAnEarlierRunLeftIncomplete() throws IOException {
        byte[] content = gguf();
        Path part = ggufBlob().resolveSibling(ggufBlob().getFileName() + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, Arrays.copyOf(content, 123_456));
        AtomicLong reported = new AtomicLong();
        Path file = hub().file(FakeHub.GGUF, "main", GGUF_FILE, new DownloadListener() {
            @Override
            public void transferred(long bytes) {
                reported.addAndGet(bytes);
            }
        });
        assertThat(Files.readAllBytes(file)).isEqualTo(content);
        assertThat(server.log()).anyMatch(l -> l.startsWith("GET cdn:/lfs/") && l.contains("Range=bytes=123456-"));
        assertThat(reported.get()).isEqualTo(content.length);
        assertThat(part).doesNotExist();
    }

    @Test
    void resumesAConnectionThatBroke() throws IOException {
        server.dropOnce(FakeHub.sha256(gguf()), 100_000);
        Path file = hub().file(FakeHub.GGUF, null, GGUF_FILE);
        assertThat(Files.readAllBytes(file)).isEqualTo(gguf());
        List<String> gets =
                server.log().stream().filter(l -> l.startsWith("GET cdn:")).toList();
        assertThat(gets).hasSize(2);
        assertThat(gets.get(0)).doesNotContain("Range");
        assertThat(gets.get(1)).matches(".*Range=bytes=\\d+-.*");
        long from = Long.parseLong(gets.get(1).replaceAll(".*Range=bytes=(\\d+)-.*", "$1"));
        assertThat(from).isPositive().isLessThanOrEqualTo(100_000);
    }

    @Test
    void aConnectionThatGoesSilentIsClosedAndResumed() throws IOException {
        server.stallOnce(FakeHub.sha256(gguf()), 80_000);
        HubFiles h = HubFiles.builder()
                .endpoint(server.endpoint())
                .cache(new HuggingFaceCache(hubDir))
                .timeout(java.time.Duration.ofMillis(800))
                .build();
        h.retryDelayMillis(1);
        long t0 = System.nanoTime();
        assertThat(h.file(FakeHub.GGUF, null, GGUF_FILE)).hasBinaryContent(gguf());
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(30);
        assertThat(server.log())
                .filteredOn(l -> l.startsWith("GET cdn:"))
                .hasSize(2)
                .last()
                .asString()
                .contains("Range=bytes=");
    }

    @Test
    void aCorruptDownloadIsDetectedAndDiscarded() throws IOException {
        server.corrupt(FakeHub.sha256(gguf()));
        assertThatThrownBy(() -> hub().file(FakeHub.GGUF, null, GGUF_FILE))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.CORRUPT))
                .hasMessageContaining(GGUF_FILE)
                .hasMessageContaining("sha256")
                .hasMessageContaining(FakeHub.sha256(gguf()));
        try (Stream<Path> s = Files.list(ggufBlob().getParent())) {
            assertThat(s.toList()).isEmpty(); // neither the blob nor a partial file
        }
        assertThat(hubDir.resolve("models--flux4j-test--tiny-gguf/snapshots/" + FakeHub.GGUF_MAIN + "/" + GGUF_FILE))
                .doesNotExist();
    }

    @Test
    void aTruncatedCachedBlobIsDownloadedAgain() throws IOException {
        hub().file(FakeHub.GGUF, FakeHub.GGUF_MAIN, GGUF_FILE);
        Files.write(ggufBlob(), Arrays.copyOf(gguf(), 1000));
        HubSnapshot s = hub().resolve(FakeHub.GGUF, FakeHub.GGUF_MAIN, List.of("*.gguf"));
        assertThat(Files.readAllBytes(s.files().get(0))).isEqualTo(gguf());
    }

    @Test
    void aCorruptSmallFileIsDetectedByItsGitHash(@TempDir Path other) throws IOException {
        // A small file's ETag is its git blob sha1: a blob whose content does not hash to it is refused.
        Path f = other.resolve("x");
        Files.writeString(f, "{\"a\": 1}\n");
        assertThatThrownBy(() -> HubCache.verify(f, FakeHub.gitBlobSha1(FakeHub.text("{\"a\": 2}\n")), "config.json"))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.CORRUPT))
                .hasMessageContaining("git blob sha1");
        HubCache.verify(f, FakeHub.gitBlobSha1(Files.readAllBytes(f)), "config.json");
    }

    @Test
    void aGatedRepositorySaysToAcceptTheLicenceThenLogIn() throws IOException {
        assertThatThrownBy(() -> hub().resolve(FakeHub.GATED, null, List.of("*")))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.GATED))
                .hasMessageContaining("accept its licence at " + server.endpoint() + "/" + FakeHub.GATED)
                .hasMessageContaining("hf auth login")
                .hasMessageContaining("HF_TOKEN");
        assertThatThrownBy(() -> hub("hf_other").file(FakeHub.GATED, null, "config.json"))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.GATED))
                .hasMessageContaining("the token used has no access")
                .hasMessageContaining("accept its licence at " + server.endpoint() + "/" + FakeHub.GATED);
        int before = server.log().size();
        HubSnapshot s = hub(FakeHub.GATED_TOKEN).resolve(FakeHub.GATED, null, List.of("*"));
        assertThat(s.files()).hasSize(2);
        // The token goes to the Hub, never to the storage host a download is redirected to.
        List<String> log = server.log().subList(before, server.log().size());
        assertThat(log).filteredOn(l -> l.contains("cdn:")).isNotEmpty();
        assertThat(log).filteredOn(l -> l.startsWith("HEAD /" + FakeHub.GATED)).allMatch(l -> l.endsWith(" auth"));
        assertThat(log).filteredOn(l -> l.contains("cdn:")).noneMatch(l -> l.endsWith(" auth"));
    }

    @Test
    void missingRepositoryRevisionAndFileAreNamed() {
        assertThatThrownBy(() -> hub().resolve("flux4j-test/nope", null, List.of("*")))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_FOUND))
                .hasMessageContaining("flux4j-test/nope was not found on " + server.endpoint());
        assertThatThrownBy(() -> hub().resolve(FakeHub.PIPE, "v9", List.of("*")))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_FOUND))
                .hasMessageContaining("revision 'v9' of " + FakeHub.PIPE + " does not exist");
        assertThatThrownBy(() -> hub().file(FakeHub.GGUF, null, "model-Q4_0.gguf"))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_FOUND))
                .hasMessageContaining("model-Q4_0.gguf is not in " + FakeHub.GGUF);
        assertThatThrownBy(() -> hub().resolve(FakeHub.PIPE, null, List.of("*.ckpt")))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_FOUND))
                .hasMessageContaining("no file of " + FakeHub.PIPE + "@main matches [*.ckpt]");
    }

    @Test
    void cachedFilesCostOneRequestForABranchAndNoneForACommit() throws IOException {
        hub().resolve(FakeHub.PIPE, "main", HubCacheLayoutTest.PIPE_PATTERNS);
        int before = server.log().size();
        HubSnapshot again = hub().resolve(FakeHub.PIPE, "main", HubCacheLayoutTest.PIPE_PATTERNS);
        assertThat(server.log().subList(before, server.log().size()))
                .containsExactly("GET /api/models/flux4j-test/tiny-pipe/revision/main");
        assertThat(again.files()).hasSize(6);
        before = server.log().size();
        hub().resolve(FakeHub.PIPE, FakeHub.PIPE_MAIN, HubCacheLayoutTest.PIPE_PATTERNS);
        hub().file(FakeHub.PIPE, FakeHub.PIPE_MAIN, "model_index.json");
        assertThat(server.log()).hasSize(before);
    }

    @Test
    void offlineUsesTheCacheWithoutRequestsAndNamesWhatIsMissing() throws IOException {
        hub().resolve(FakeHub.PIPE, "main", HubCacheLayoutTest.PIPE_PATTERNS);
        hub().file(FakeHub.GGUF, null, GGUF_FILE);
        int before = server.log().size();
        HubFiles offline = hub().withOffline(true);
        assertThat(offline.resolve(FakeHub.PIPE, null, List.of("text_encoder/*"))
                        .files())
                .hasSize(2);
        assertThat(offline.file(FakeHub.GGUF, null, GGUF_FILE)).hasBinaryContent(gguf());
        assertThat(server.log()).hasSize(before);
        // Cached revision, but files of it that were never downloaded (the listing knows them).
        assertThatThrownBy(() -> offline.resolve(FakeHub.PIPE, null, List.of("vae/*")))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_CACHED))
                .hasMessageContaining("missing: vae/config.json, vae/diffusion_pytorch_model.safetensors")
                .hasMessageContaining("HF_HUB_OFFLINE");
        assertThatThrownBy(() -> offline.resolve(FakeHub.PIPE, "v1", List.of("*")))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_CACHED))
                .hasMessageContaining(FakeHub.PIPE + "@v1 is not in the Hugging Face cache");
    }

    @Test
    void anUnreachableHubFallsBackToTheCache() throws IOException {
        hub().resolve(FakeHub.PIPE, "main", List.of("model_index.json"));
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        HubFiles down = HubFiles.builder()
                .endpoint("http://127.0.0.1:" + port)
                .cache(new HuggingFaceCache(hubDir))
                .build();
        assertThat(down.resolve(FakeHub.PIPE, "main", List.of("model_index.json"))
                        .commit())
                .isEqualTo(FakeHub.PIPE_MAIN);
        assertThatThrownBy(() -> down.resolve(FakeHub.GGUF, "main", List.of("*")))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_CACHED))
                .hasMessageContaining("the Hub cannot be reached");
    }

    @Test
    void downloadsInParallelWithOneProgressTotal() throws IOException {
        AtomicLong planned = new AtomicLong();
        AtomicLong transferred = new AtomicLong();
        HubSnapshot s = hub().resolve(FakeHub.PIPE, null, List.of("*.safetensors"), new DownloadListener() {
            @Override
            public void planned(String repoId, int files, long bytes) {
                planned.addAndGet(bytes);
            }

            @Override
            public void transferred(long bytes) {
                transferred.addAndGet(bytes);
            }
        });
        assertThat(s.files()).hasSize(5);
        assertThat(planned.get()).isEqualTo(70_000 + 50_000 + 40_000 + 120_000 + 30_000);
        assertThat(transferred.get()).isEqualTo(planned.get());
    }

    @Test
    void resolvesLocalPathsHubFilesAndHubFolders(@TempDir Path dir) throws IOException {
        Path local = Files.writeString(dir.resolve("local.gguf"), "x");
        assertThat(hub().resolvePath(local.toString(), DownloadListener.NONE)).isEqualTo(local);
        Path file = hub().resolvePath(FakeHub.GGUF + "/" + GGUF_FILE, DownloadListener.NONE);
        assertThat(file).hasBinaryContent(gguf());
        Path folder = hub().resolvePath("hf://" + FakeHub.PIPE + "@main/text_encoder_2", DownloadListener.NONE);
        assertThat(folder).isDirectory();
        try (Stream<Path> s = Files.list(folder)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly(
                            "config.json",
                            "model-00001-of-00002.safetensors",
                            "model-00002-of-00002.safetensors",
                            "model.safetensors.index.json");
        }
        assertThatThrownBy(() -> hub().resolvePath(dir.resolve("missing.gguf").toString(), DownloadListener.NONE))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("not a Hugging Face file");
        assertThatThrownBy(() -> hub().resolvePath(FakeHub.GGUF + "/nothing-here", DownloadListener.NONE))
                .isInstanceOfSatisfying(
                        HubException.class, e -> assertThat(e.kind()).isEqualTo(HubException.Kind.NOT_FOUND))
                .hasMessageContaining("nothing-here is not in " + FakeHub.GGUF);
    }

    @Test
    void settingsComeFromTheEnvironmentAsHuggingFaceHubReadsThem(@TempDir Path userHome) throws IOException {
        Path hfHome = userHome.resolve("hf");
        Files.createDirectories(hfHome);
        Files.writeString(hfHome.resolve("token"), "hf_fromfile\n");
        HubFiles h = HubFiles.fromEnvironment(
                Map.of("HF_HOME", hfHome.toString(), "HF_ENDPOINT", server.endpoint() + "/", "HF_HUB_OFFLINE", "yes"),
                userHome);
        assertThat(h.endpoint().toString()).isEqualTo(server.endpoint());
        assertThat(h.cache().hub()).isEqualTo(hfHome.resolve("hub"));
        assertThat(h.hasToken()).isTrue();
        assertThat(h.offline()).isTrue();
        HubFiles env = HubFiles.fromEnvironment(
                Map.of(
                        "HF_TOKEN",
                        FakeHub.GATED_TOKEN,
                        "HF_HUB_CACHE",
                        hubDir.toString(),
                        "HF_ENDPOINT",
                        server.endpoint(),
                        "HF_HUB_OFFLINE",
                        "0"),
                userHome);
        assertThat(env.offline()).isFalse();
        assertThat(env.resolve(FakeHub.GATED, null, List.of("config.json")).files())
                .hasSize(1);
        HubFiles none = HubFiles.fromEnvironment(Map.of(), userHome);
        assertThat(none.hasToken()).isFalse();
        assertThat(none.endpoint().toString()).isEqualTo(HubFiles.DEFAULT_ENDPOINT);
        assertThat(none.cache().hub()).isEqualTo(userHome.resolve(".cache/huggingface/hub"));
        assertThatThrownBy(() -> HubFiles.fromEnvironment(Map.of("HF_ENDPOINT", "ftp://x"), userHome))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ftp://x");
    }
}
