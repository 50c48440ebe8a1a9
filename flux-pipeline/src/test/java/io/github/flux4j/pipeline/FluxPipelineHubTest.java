package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.vae.RgbImage;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.pipeline.hub.FakeHub;
import io.github.flux4j.pipeline.hub.HubException;
import io.github.flux4j.pipeline.hub.HubFiles;
import io.github.flux4j.pipeline.model.HuggingFaceCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FluxPipeline.Builder#downloads}: a base model, a transformer GGUF and a T5 GGUF from a
 * (local, fake) Hub make the same image as the same files on disk, and only the files the pipeline
 * reads are downloaded.
 */
class FluxPipelineHubTest {
    private static final String BASE = "flux4j-test/tiny-flux";
    private static final String GGUFS = "flux4j-test/tiny-flux-gguf";
    private static final String COMMIT = "1111111111111111111111111111111111111111";
    private static final String GGUF_COMMIT = "2222222222222222222222222222222222222222";

    @TempDir
    Path dir;

    @Test
    void downloadsOnlyWhatThePipelineReadsAndMakesTheSameImage() throws IOException {
        Path folder = TinyPipeline.folder();
        Path transformer = TinyPipeline.gguf(TinyFluxFiles.Variant.DEV_Q8_0);
        Path t5 = T5Gguf.write(folder.resolve("text_encoder_2"), dir.resolve("t5-F32.gguf"), GgmlType.F32);
        Map<String, byte[]> base = files(folder);
        // What a real FLUX repository also has and a GGUF run must not fetch.
        base.put("transformer/diffusion_pytorch_model.safetensors", new byte[4096]);
        base.put("flux1-dev.safetensors", new byte[8192]);
        base.put("text_encoder/model.fp16.safetensors", new byte[1024]);
        Map<String, byte[]> ggufs = new TreeMap<>();
        ggufs.put("flux1-dev-Q8_0.gguf", Files.readAllBytes(transformer));
        ggufs.put("t5-F32.gguf", Files.readAllBytes(t5));
        GenerationOptions o = GenerationOptions.builder()
                .size(32, 32)
                .steps(1)
                .maxSequenceLength(16)
                .seed(4)
                .build();
        RgbImage local;
        try (FluxPipeline p =
                builder().transformer(transformer).baseModel(folder).t5Gguf(t5).build()) {
            local = p.generate("a fox in the snow", o).image();
        }

        Path hubDir = dir.resolve("hub");
        try (FakeHub server = new FakeHub()) {
            server.addRepo(BASE, Map.of("main", COMMIT), Map.of(COMMIT, base), false);
            server.addRepo(GGUFS, Map.of("main", GGUF_COMMIT), Map.of(GGUF_COMMIT, ggufs), false);
            HubFiles hub = HubFiles.builder()
                    .endpoint(server.endpoint())
                    .cache(new HuggingFaceCache(hubDir))
                    .build();
            try (FluxPipeline p = builder()
                    .transformer(GGUFS + "/flux1-dev-Q8_0.gguf")
                    .baseModel(BASE)
                    .t5Gguf(GGUFS + "/t5-F32.gguf")
                    .downloads(hub)
                    .build()) {
                assertThat(p.generate("a fox in the snow", o).image()).isEqualTo(local);
            }
            Path snapshot = hubDir.resolve("models--flux4j-test--tiny-flux/snapshots/" + COMMIT);
            assertThat(relativeFiles(snapshot))
                    .containsExactlyElementsOf(base.keySet().stream()
                            .filter(f -> !f.startsWith("transformer/")
                                    && !f.startsWith("text_encoder_2/")
                                    && !f.equals("flux1-dev.safetensors")
                                    && !f.contains(".fp16."))
                            .sorted()
                            .toList());

            // Offline, from the cache alone: no request.
            int requests = server.log().size();
            try (FluxPipeline p = builder()
                    .transformer(GGUFS + "/flux1-dev-Q8_0.gguf")
                    .baseModel(BASE)
                    .t5Gguf(GGUFS + "/t5-F32.gguf")
                    .downloads(hub.withOffline(true))
                    .build()) {
                assertThat(p.modelFolder().root()).isEqualTo(snapshot);
            }
            assertThat(server.log()).hasSize(requests);
            // Without a T5 GGUF the folder's T5 is needed: offline it is missing, and named.
            assertThatThrownBy(() -> builder()
                            .transformer(GGUFS + "/flux1-dev-Q8_0.gguf")
                            .baseModel(BASE)
                            .downloads(hub.withOffline(true))
                            .build())
                    .isInstanceOf(HubException.class)
                    .hasMessageContaining("base model '" + BASE + "'")
                    .hasMessageContaining("text_encoder_2/config.json");
            // Online it is downloaded, and nothing else.
            try (FluxPipeline p = builder()
                    .transformer(GGUFS + "/flux1-dev-Q8_0.gguf")
                    .baseModel(BASE)
                    .downloads(hub)
                    .build()) {
                assertThat(p.modelFolder().weightFiles(io.github.flux4j.pipeline.model.FluxComponent.TEXT_ENCODER_2))
                        .hasSize(2);
            }
            assertThat(relativeFiles(snapshot)).noneMatch(f -> f.startsWith("transformer/"));
            // A file the repository does not have is named with the option it came from.
            assertThatThrownBy(() -> builder()
                            .transformer(GGUFS + "/flux1-dev-Q2_K.gguf")
                            .baseModel(BASE)
                            .downloads(hub)
                            .build())
                    .isInstanceOf(HubException.class)
                    .hasMessageContaining("transformer '" + GGUFS + "/flux1-dev-Q2_K.gguf'")
                    .hasMessageContaining("flux1-dev-Q2_K.gguf is not in " + GGUFS);
        }
    }

    private static FluxPipeline.Builder builder() {
        return FluxPipeline.builder().device(FluxDevice.cpu()).computeDtype(ComputeDtype.F32);
    }

    private static Map<String, byte[]> files(Path root) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                out.put(root.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
            }
        }
        return out;
    }

    private static List<String> relativeFiles(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile)
                    .map(p -> root.relativize(p).toString().replace('\\', '/'))
                    .sorted()
                    .toList();
        }
    }
}
