package io.github.flux4j.pipeline.hub;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.pipeline.model.HuggingFaceCache;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache flux4j writes is the one {@code huggingface_hub} writes for the same downloads from the
 * same server: {@code reference-layout.txt} is what {@code tools/reference/hub_cache_layout.py}
 * recorded with huggingface_hub against {@link FakeHub}.
 */
class HubCacheLayoutTest {
    // The same downloads as tools/reference/hub_cache_layout.py.
    static final List<String> PIPE_PATTERNS =
            List.of("model_index.json", "scheduler/*", "text_encoder/*", "tokenizer/*");
    static final List<String> V1_PATTERNS = List.of("model_index.json", "text_encoder/*");

    @Test
    void layoutIsHuggingFaceHubs(@TempDir Path home) throws Exception {
        Path hub = home.resolve("hub");
        try (FakeHub server = FakeHub.standard()) {
            HubFiles files = HubFiles.builder()
                    .endpoint(server.endpoint())
                    .cache(new HuggingFaceCache(hub))
                    .build();
            HubSnapshot main = files.resolve(FakeHub.PIPE, "main", PIPE_PATTERNS);
            Path gguf = files.file(FakeHub.GGUF, null, "model-Q8_0.gguf");
            HubSnapshot v1 = files.resolve(FakeHub.PIPE, "v1", V1_PATTERNS);

            assertThat(main.commit()).isEqualTo(FakeHub.PIPE_MAIN);
            assertThat(main.files())
                    .extracting(p -> main.folder().relativize(p).toString())
                    .containsExactly(
                            "model_index.json",
                            "scheduler/scheduler_config.json",
                            "text_encoder/config.json",
                            "text_encoder/model.safetensors",
                            "tokenizer/merges.txt",
                            "tokenizer/vocab.json");
            assertThat(v1.commit()).isEqualTo(FakeHub.PIPE_V1);
            assertThat(Files.readAllBytes(gguf))
                    .isEqualTo(server.file(FakeHub.GGUF, FakeHub.GGUF_MAIN, "model-Q8_0.gguf"));
            for (Path p : main.files()) {
                assertThat(Files.readAllBytes(p))
                        .as(p.toString())
                        .isEqualTo(server.file(
                                FakeHub.PIPE,
                                FakeHub.PIPE_MAIN,
                                main.folder().relativize(p).toString()));
            }
        }
        List<String> expected = new ArrayList<>();
        try (InputStream in = HubCacheLayoutTest.class.getResourceAsStream("/hub/reference-layout.txt")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    expected.add(line);
                }
            }
        }
        List<String> actual = layout(hub);
        // CACHEDIR.TAG: the standard's signature line is what matters; the comment is each library's own.
        assertThat(Files.readAllLines(hub.resolve("CACHEDIR.TAG")).get(0)).isEqualTo(HubCache.CACHEDIR_SIGNATURE);
        assertThat(withoutTag(actual)).containsExactlyElementsOf(withoutTag(expected));
    }

    private static List<String> withoutTag(List<String> lines) {
        return lines.stream().filter(l -> !l.startsWith("file CACHEDIR.TAG ")).toList();
    }

    /** The lines hub_cache_layout.py writes: dir, link (with target), file (with size and sha256), sorted. */
    static List<String> layout(Path hub) throws IOException {
        List<String> lines = new ArrayList<>();
        try (Stream<Path> s = Files.walk(hub)) {
            for (Path p : s.filter(p -> !p.equals(hub)).toList()) {
                String rel = hub.relativize(p).toString().replace('\\', '/');
                if (Files.isSymbolicLink(p)) {
                    lines.add("link " + rel + " -> " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p)) {
                    lines.add("dir " + rel);
                } else {
                    byte[] b = Files.readAllBytes(p);
                    lines.add("file " + rel + " size=" + b.length + " sha256=" + sha256(b));
                }
            }
        }
        lines.sort(null);
        return lines;
    }

    static String sha256(byte[] b) {
        return FakeHub.sha256(b);
    }
}
