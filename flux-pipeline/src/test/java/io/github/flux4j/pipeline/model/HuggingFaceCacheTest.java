package io.github.flux4j.pipeline.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache layout of huggingface_hub (models--org--name, refs/, snapshots/ of links into blobs/). */
class HuggingFaceCacheTest {
    @TempDir
    Path tmp;

    @Test
    void findsTheHubFolderAsHuggingfaceHubDoes() {
        Path home = Path.of("/home/u");
        assertThat(HuggingFaceCache.fromEnvironment(Map.of(), home).hub())
                .isEqualTo(Path.of("/home/u/.cache/huggingface/hub"));
        assertThat(HuggingFaceCache.fromEnvironment(Map.of("XDG_CACHE_HOME", "/x"), home)
                        .hub())
                .isEqualTo(Path.of("/x/huggingface/hub"));
        assertThat(HuggingFaceCache.fromEnvironment(Map.of("HF_HOME", "~/hf", "XDG_CACHE_HOME", "/x"), home)
                        .hub())
                .isEqualTo(Path.of("/home/u/hf/hub"));
        assertThat(HuggingFaceCache.fromEnvironment(Map.of("HUGGINGFACE_HUB_CACHE", "/legacy", "HF_HOME", "/hf"), home)
                        .hub())
                .isEqualTo(Path.of("/legacy"));
        assertThat(HuggingFaceCache.fromEnvironment(
                                Map.of("HF_HUB_CACHE", "/new", "HUGGINGFACE_HUB_CACHE", "/legacy", "HF_HOME", "/hf"),
                                home)
                        .hub())
                .isEqualTo(Path.of("/new"));
        assertThat(HuggingFaceCache.fromEnvironment(Map.of("HF_HUB_CACHE", "", "HF_HOME", "/hf"), home)
                        .hub())
                .isEqualTo(Path.of("/hf/hub"));
    }

    @Test
    void recognisesRepositoryIds() {
        assertThat(HuggingFaceCache.isRepoId("black-forest-labs/FLUX.1-dev")).isTrue();
        assertThat(HuggingFaceCache.isRepoId("gpt2")).isTrue();
        assertThat(HuggingFaceCache.isRepoId("city96/FLUX.1-dev-gguf")).isTrue();
        assertThat(HuggingFaceCache.isRepoId("a/b/c")).isFalse();
        assertThat(HuggingFaceCache.isRepoId("foo--bar")).isFalse();
        assertThat(HuggingFaceCache.isRepoId("foo/..bar")).isFalse();
        assertThat(HuggingFaceCache.isRepoId(".repo")).isFalse();
        assertThat(HuggingFaceCache.isRepoId("/abs/path")).isFalse();
        assertThat(HuggingFaceCache.isRepoId("")).isFalse();
        assertThatThrownBy(() -> new HuggingFaceCache(tmp).repoFolder("a/b/c"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a Hugging Face repository id");
        assertThat(new HuggingFaceCache(tmp).repoFolder("black-forest-labs/FLUX.1-dev"))
                .isEqualTo(tmp.resolve("models--black-forest-labs--FLUX.1-dev"));
    }

    @Test
    void opensTheSnapshotMainPointsTo() throws IOException {
        Path snapshot = FakeFluxFolder.writeCache(tmp);
        HuggingFaceCache cache = new HuggingFaceCache(tmp);
        assertThat(cache.snapshot(FakeFluxFolder.REPO, null)).isEqualTo(snapshot);
        FluxModelFolder f = FluxModelFolder.fromHub(cache, FakeFluxFolder.REPO, null);
        assertThat(f.root()).isEqualTo(snapshot);
        assertThat(f.source()).startsWith("black-forest-labs/FLUX.1-dev@main (snapshot " + FakeFluxFolder.COMMIT);
        // Paths stay in the snapshot (links into blobs/), and read through.
        Path vocab = f.clipTokenizer().vocab();
        assertThat(vocab).isEqualTo(snapshot.resolve("tokenizer/vocab.json"));
        assertThat(Files.isSymbolicLink(vocab)).isTrue();
        assertThat(Files.readString(vocab)).isEqualTo("{\"!\": 0}");
        assertThat(f.weightFiles(FluxComponent.TEXT_ENCODER_2)).hasSize(2);
        assertThat(FluxModelFolder.resolve("black-forest-labs/FLUX.1-dev", cache)
                        .root())
                .isEqualTo(snapshot);
    }

    @Test
    void takesACommitOrAnotherRef() throws IOException {
        Path snapshot = FakeFluxFolder.writeCache(tmp);
        HuggingFaceCache cache = new HuggingFaceCache(tmp);
        assertThat(cache.snapshot(FakeFluxFolder.REPO, FakeFluxFolder.COMMIT)).isEqualTo(snapshot);
        Path repo = cache.repoFolder(FakeFluxFolder.REPO);
        FakeFluxFolder.write(repo.resolve("refs/pr/1"), FakeFluxFolder.COMMIT + "\n");
        assertThat(cache.snapshot(FakeFluxFolder.REPO, "pr/1")).isEqualTo(snapshot);
        assertThat(FluxModelFolder.resolve(FakeFluxFolder.REPO + "@" + FakeFluxFolder.COMMIT, cache)
                        .root())
                .isEqualTo(snapshot);
    }

    @Test
    void saysHowToDownloadWhatIsNotCached() throws IOException {
        HuggingFaceCache cache = new HuggingFaceCache(tmp);
        assertThatThrownBy(() -> cache.snapshot(FakeFluxFolder.REPO, null))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("black-forest-labs/FLUX.1-dev is not in the local Hugging Face cache at " + tmp)
                .hasMessageContaining("huggingface-cli download black-forest-labs/FLUX.1-dev")
                .hasMessageContaining("give a local path")
                .hasMessageContaining("let flux4j download it");
        FakeFluxFolder.writeCache(tmp);
        assertThatThrownBy(() -> cache.snapshot(FakeFluxFolder.REPO, "v2"))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining(
                        "revision 'v2' of black-forest-labs/FLUX.1-dev is not in the local Hugging Face" + " cache")
                .hasMessageContaining("cached refs: [main]")
                .hasMessageContaining("--revision v2");
        String other = "1111111111111111111111111111111111111111";
        assertThatThrownBy(() -> cache.snapshot(FakeFluxFolder.REPO, other))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("snapshot " + other);
        FakeFluxFolder.write(cache.repoFolder(FakeFluxFolder.REPO).resolve("refs/bad"), "not-a-hash");
        assertThatThrownBy(() -> cache.snapshot(FakeFluxFolder.REPO, "bad"))
                .hasMessageContaining("should hold a 40-character commit hash");
        assertThatThrownBy(() -> cache.snapshot(FakeFluxFolder.REPO, "../../x"))
                .hasMessageContaining("is not a branch, tag or commit");
    }

    @Test
    void reportsBrokenLinksOfAnInterruptedDownload() throws IOException {
        Path snapshot = FakeFluxFolder.writeCache(tmp);
        // Remove the blobs behind two files, leaving dangling links, as an interrupted download does.
        Files.delete(snapshot.resolve("tokenizer/merges.txt").toRealPath());
        Files.delete(snapshot.resolve("text_encoder/model.safetensors").toRealPath());
        HuggingFaceCache cache = new HuggingFaceCache(tmp);
        assertThatThrownBy(() -> FluxModelFolder.fromHub(cache, FakeFluxFolder.REPO, null))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("tokenizer/merges.txt is a broken link (CLIP's BPE merges; its blob is missing")
                .hasMessageContaining("text_encoder/model.safetensors is a broken link");
    }
}
