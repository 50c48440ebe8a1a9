package io.github.flux4j.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.vae.VaeDecoder;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.gguf.TensorInfo;
import io.github.flux4j.pipeline.model.FluxModelFolder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoModelTest {
    /**
     * sha256 of the manifest of demo model v1. It changes only if the generator, the resources or
     * a writer changes: then the model is not v1 any more (bump {@link DemoModel#VERSION}, so that
     * cached copies are not mixed up with the new files, and update this value).
     */
    static final String MANIFEST_SHA256_V1 = "3a3c144ad87a63cbc6bdbf6888d2b2c578ea0d9a7d81e5c42c09aa5a45a6c45d";

    @TempDir
    Path dir;

    @Test
    void generatedIdenticallyEveryTime() throws IOException, NoSuchAlgorithmException {
        DemoModel a = DemoModel.write(dir.resolve("a"));
        DemoModel b = DemoModel.write(dir.resolve("b"));
        String ma = Files.readString(a.root().resolve(DemoModel.MANIFEST));
        assertThat(ma).isEqualTo(Files.readString(b.root().resolve(DemoModel.MANIFEST)));
        assertThat(ma)
                .contains(
                        "  tiny-flux-demo-Q8_0.gguf\n",
                        "  tiny-flux-demo/vae/diffusion_pytorch_model.safetensors\n",
                        "  tiny-flux-demo/text_encoder/model.safetensors\n",
                        "  tiny-flux-demo/text_encoder_2/model.safetensors\n",
                        "  tiny-flux-demo/tokenizer_2/tokenizer.json\n");
        String sha = HexFormat.of()
                .formatHex(MessageDigest.getInstance("SHA-256").digest(ma.getBytes(StandardCharsets.UTF_8)));
        assertThat(sha).as("manifest:%n%s", ma).isEqualTo(MANIFEST_SHA256_V1);
    }

    @Test
    void ensureGeneratesOnceThenReusesAndRepairs() throws IOException {
        DemoModel m = DemoModel.ensureIn(dir);
        assertThat(m.root()).isEqualTo(dir.toAbsolutePath().resolve("demo-v" + DemoModel.VERSION));
        Path gguf = m.transformer();
        long modified = Files.getLastModifiedTime(gguf).toMillis();
        assertThat(DemoModel.ensureIn(dir).transformer()).isEqualTo(gguf);
        assertThat(Files.getLastModifiedTime(gguf).toMillis()).isEqualTo(modified);
        // no temporary folders left behind (the lock file stays: deleting it could let two processes lock two files)
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("demo-v" + DemoModel.VERSION, ".demo-v" + DemoModel.VERSION + ".lock");
        }
        // a damaged file is noticed and the model regenerated
        Files.write(m.baseModel().resolve("vae/diffusion_pytorch_model.safetensors"), new byte[] {1, 2, 3});
        DemoModel again = DemoModel.ensureIn(dir);
        assertThat(Files.size(again.baseModel().resolve("vae/diffusion_pytorch_model.safetensors")))
                .isGreaterThan(3);
    }

    /**
     * Several threads preparing the demo model in one empty cache at once: all succeed, and the
     * model is generated once (before the lock, late finishers deleted and replaced the folder an
     * earlier one had just completed and handed out).
     */
    @Test
    void concurrentCallersInOneEmptyCacheAllSucceedWithOneModel() throws Exception {
        int n = 4;
        CyclicBarrier start = new CyclicBarrier(n);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Object>> runs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                runs.add(pool.submit(() -> {
                    start.await();
                    DemoModel m = DemoModel.ensureIn(dir);
                    // what a caller does next: use the files at once
                    assertThat(DemoModel.find(dir))
                            .as("complete right after ensureIn returned")
                            .isPresent();
                    return Files.readAttributes(m.transformer(), BasicFileAttributes.class)
                            .fileKey();
                }));
            }
            Set<Object> files = new HashSet<>();
            for (Future<Object> r : runs) {
                files.add(r.get(120, TimeUnit.SECONDS));
            }
            assertThat(files).as("one generated model, never replaced").hasSize(1);
        } finally {
            pool.shutdownNow();
        }
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("demo-v" + DemoModel.VERSION, ".demo-v" + DemoModel.VERSION + ".lock");
        }
    }

    /** Temporary folders of killed runs are removed by the next call, whether it generates or not. */
    @Test
    void staleTemporaryFoldersAreSwept() throws IOException {
        Path stale = Files.createDirectories(dir.resolve(".demo-v" + DemoModel.VERSION + ".k1ll3d.tmp/tiny-flux-demo"));
        Files.writeString(stale.resolve("model_index.json"), "{");
        DemoModel.ensureIn(dir);
        assertThat(dir.resolve(".demo-v" + DemoModel.VERSION + ".k1ll3d.tmp")).doesNotExist();

        Path again = Files.createDirectories(dir.resolve(".demo-v" + DemoModel.VERSION + ".4g41n.tmp"));
        Path unrelated = Files.createDirectories(dir.resolve("mine.tmp"));
        DemoModel.ensureIn(dir); // complete already: sweeps without regenerating
        assertThat(again).doesNotExist();
        assertThat(unrelated).exists();
    }

    @Test
    void everyComponentLoadsStrictly() throws IOException {
        DemoModel m = DemoModel.write(dir);
        FluxModelFolder folder = FluxModelFolder.resolve(m.baseModel().toString());
        assertThat(folder.vaeScaleFactor()).isEqualTo(8);
        try (ClipTextModel clip = ClipTextModel.load(
                        m.baseModel().resolve("text_encoder"),
                        LoadOptions.defaults().withStrict(true));
                T5EncoderModel t5 = T5EncoderModel.load(
                        m.baseModel().resolve("text_encoder_2"),
                        LoadOptions.defaults().withStrict(true));
                VaeDecoder vae = VaeDecoder.load(
                        m.baseModel().resolve("vae"), LoadOptions.defaults().withStrict(true));
                FluxTransformer flux = GgufTransformer.load(
                        m.transformer(), LoadOptions.defaults().withStrict(true))) {
            assertThat(clip.leftovers()).isEmpty();
            assertThat(t5.leftovers()).isEmpty();
            assertThat(vae.leftovers()).isEmpty();
            assertThat(flux.config().guidanceEmbed()).isTrue();
        }
        try (GgufFile g = GgufFile.open(m.transformer())) {
            assertThat(g.tensor("double_blocks.0.img_attn.qkv.weight").type()).isEqualTo(GgmlType.Q8_0);
            assertThat(g.tensor("img_in.weight").type()).isEqualTo(GgmlType.F16);
            assertThat(g.tensor("img_in.bias").type()).isEqualTo(GgmlType.F32);
            assertThat(g.tensors()).hasSize(84);
            long bytes = g.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
            assertThat(bytes).isLessThan(10_000_000);
        }
    }
}
