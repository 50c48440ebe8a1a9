package io.github.flux4j.pipeline.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.pipeline.scheduler.FlowMatchEulerSchedulerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FluxModelFolderTest {
    @TempDir
    Path tmp;

    @Test
    void opensTheFluxDevLayout() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("FLUX.1-dev"));
        FluxModelFolder f = FluxModelFolder.open(root);

        assertThat(f.root()).isEqualTo(root);
        assertThat(f.modelIndex().pipelineClass()).isEqualTo("FluxPipeline");
        assertThat(f.modelIndex().components()).hasSize(7).doesNotContainKeys("image_encoder", "feature_extractor");
        assertThat(f.schedulerConfig()).isEqualTo(FlowMatchEulerSchedulerConfig.fluxDev());
        assertThat(f.vaeScaleFactor()).isEqualTo(8);
        assertThat(f.weightFiles(FluxComponent.TEXT_ENCODER))
                .containsExactly(root.resolve("text_encoder/model.safetensors"));
        assertThat(f.weightFiles(FluxComponent.TEXT_ENCODER_2))
                .containsExactly(
                        root.resolve("text_encoder_2/model-00001-of-00002.safetensors"),
                        root.resolve("text_encoder_2/model-00002-of-00002.safetensors"));
        assertThat(f.weightFiles(FluxComponent.VAE))
                .containsExactly(root.resolve("vae/diffusion_pytorch_model.safetensors"));
        assertThat(f.weightFiles(FluxComponent.TRANSFORMER)).isEmpty();
        assertThat(f.hasTransformer()).isTrue();
        assertThat(f.config(FluxComponent.TRANSFORMER).get("num_layers")).isEqualTo(19);
        assertThat(f.config(FluxComponent.VAE).get("scaling_factor")).isEqualTo(0.3611);
        assertThat(f.config(FluxComponent.TEXT_ENCODER_2).get("d_model")).isEqualTo(4096);
        assertThat(f.configFile(FluxComponent.SCHEDULER)).isEqualTo(root.resolve("scheduler/scheduler_config.json"));
        assertThat(f.configFile(FluxComponent.TEXT_ENCODER)).isEqualTo(root.resolve("text_encoder/config.json"));
        assertThat(f.clipTokenizer().vocab()).isEqualTo(root.resolve("tokenizer/vocab.json"));
        assertThat(f.clipTokenizer().merges()).isEqualTo(root.resolve("tokenizer/merges.txt"));
        assertThat(f.clipTokenizer().tokenizerConfig()).isEqualTo(root.resolve("tokenizer/tokenizer_config.json"));
        assertThat(f.t5Tokenizer().spieceModel()).isEqualTo(root.resolve("tokenizer_2/spiece.model"));
        assertThat(f.t5Tokenizer().tokenizerJson()).isEqualTo(root.resolve("tokenizer_2/tokenizer.json"));
        // config() hands out copies
        f.config(FluxComponent.VAE).put("scaling_factor", 1.0);
        assertThat(f.config(FluxComponent.VAE).get("scaling_factor")).isEqualTo(0.3611);
        assertThatThrownBy(() -> f.config(FluxComponent.TOKENIZER))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clipTokenizer()");
        assertThatThrownBy(() -> f.weightFiles(FluxComponent.SCHEDULER)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void worksWithoutTheTransformerFolderAndWithItsWeights() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        Path transformer = root.resolve("transformer");
        Files.writeString(
                transformer.resolve("diffusion_pytorch_model.safetensors.index.json"),
                "{\"weight_map\": {\"a\": \"diffusion_pytorch_model-00002-of-00002.safetensors\","
                        + " \"b\": \"diffusion_pytorch_model-00001-of-00002.safetensors\"}}");
        Files.writeString(transformer.resolve("diffusion_pytorch_model-00001-of-00002.safetensors"), "x");
        Files.writeString(transformer.resolve("diffusion_pytorch_model-00002-of-00002.safetensors"), "y");
        assertThat(FluxModelFolder.open(root).weightFiles(FluxComponent.TRANSFORMER))
                .extracting(Path::getFileName)
                .extracting(Path::toString)
                .containsExactly(
                        "diffusion_pytorch_model-00001-of-00002.safetensors",
                        "diffusion_pytorch_model-00002-of-00002.safetensors");

        deleteTree(transformer);
        FluxModelFolder f = FluxModelFolder.open(root);
        assertThat(f.hasTransformer()).isFalse();
        assertThat(f.weightFiles(FluxComponent.TRANSFORMER)).isEmpty();
        assertThatThrownBy(() -> f.config(FluxComponent.TRANSFORMER))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no transformer/ configuration");
    }

    @Test
    void t5WeightsAreOptionalOnlyWhenAsked() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        Path t5 = root.resolve("text_encoder_2");
        // Downloaded without the shards: config.json and the index only.
        Files.delete(t5.resolve("model-00001-of-00002.safetensors"));
        Files.delete(t5.resolve("model-00002-of-00002.safetensors"));
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("text_encoder_2/model-00001-of-00002.safetensors is missing");
        FluxModelFolder f = FluxModelFolder.open(root, FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL);
        assertThat(f.weightFiles(FluxComponent.TEXT_ENCODER_2)).isEmpty();
        assertThat(f.config(FluxComponent.TEXT_ENCODER_2).get("d_model")).isEqualTo(4096);
        assertThat(f.weightFiles(FluxComponent.TEXT_ENCODER)).hasSize(1);

        // One shard of two: an interrupted download, still reported.
        Files.writeString(t5.resolve("model-00002-of-00002.safetensors"), "y");
        assertThatThrownBy(() -> FluxModelFolder.open(root, FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("text_encoder_2/model-00001-of-00002.safetensors is missing");

        // No text_encoder_2/ at all; everything else is still checked, all at once.
        deleteTree(t5);
        assertThat(FluxModelFolder.open(root, FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL)
                        .weightFiles(FluxComponent.TEXT_ENCODER_2))
                .isEmpty();
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("text_encoder_2/ is missing")
                .hasMessageContaining("t5Gguf");
        deleteTree(root.resolve("tokenizer_2"));
        deleteTree(root.resolve("vae"));
        assertThatThrownBy(() -> FluxModelFolder.open(root, FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("tokenizer_2/ is missing")
                .hasMessageContaining("vae/ is missing")
                .hasMessageNotContaining("text_encoder_2");
    }

    @Test
    void namesAMissingComponentAndWhatWasExpected() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        deleteTree(root.resolve("text_encoder_2"));
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining(root + " is not a usable FLUX model folder")
                .hasMessageContaining("text_encoder_2/ is missing (the T5EncoderModel component: expected config.json"
                        + " and model.safetensors (or sharded, with model.safetensors.index.json))");
    }

    @Test
    void reportsEveryProblemAtOnce() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        deleteTree(root.resolve("vae"));
        Files.delete(root.resolve("tokenizer/merges.txt"));
        Files.delete(root.resolve("text_encoder_2/model-00002-of-00002.safetensors"));
        Files.delete(root.resolve("tokenizer_2/spiece.model"));
        Files.delete(root.resolve("tokenizer_2/tokenizer.json"));
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("vae/ is missing (the AutoencoderKL component")
                .hasMessageContaining("tokenizer/merges.txt is missing (CLIP's BPE merges)")
                .hasMessageContaining("text_encoder_2/model-00002-of-00002.safetensors is missing (a shard listed in"
                        + " model.safetensors.index.json)")
                .hasMessageContaining("tokenizer_2/ has neither spiece.model nor tokenizer.json");
    }

    @Test
    void checksModelIndexClasses() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        Files.writeString(
                root.resolve("model_index.json"),
                FakeFluxFolder.files()
                        .get("model_index.json")
                        .replace("\"CLIPTextModel\"", "\"CLIPTextModelWithProjection\"")
                        .replace(
                                "\"vae\": [\"diffusers\", \"AutoencoderKL\"]",
                                "\"unet\": [\"diffusers\", \"UNet2DModel\"]"));
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("model_index.json: text_encoder is [transformers, CLIPTextModelWithProjection],"
                        + " expected [transformers, CLIPTextModel]")
                .hasMessageContaining("model_index.json lists no vae (expected [diffusers, AutoencoderKL])");
        Files.writeString(root.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\"}");
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .hasMessageContaining("_class_name is 'StableDiffusionPipeline', not a FLUX pipeline");
    }

    @Test
    void refusesFoldersThatAreNotPipelines() throws IOException {
        assertThatThrownBy(() -> FluxModelFolder.open(tmp.resolve("nope")))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("no such folder");
        Files.createDirectories(tmp.resolve("empty"));
        assertThatThrownBy(() -> FluxModelFolder.open(tmp.resolve("empty")))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("not a diffusers pipeline folder: no model_index.json");
    }

    @Test
    void refusesPickleOnlyWeightsAndEscapingShards() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        Files.delete(root.resolve("text_encoder/model.safetensors"));
        Files.writeString(root.resolve("text_encoder/pytorch_model.bin"), "pickle");
        Files.writeString(
                root.resolve("text_encoder_2/model.safetensors.index.json"),
                "{\"weight_map\": {\"shared.weight\": \"../vae/diffusion_pytorch_model.safetensors\"}}");
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("text_encoder/ has no model.safetensors or model.safetensors.index.json (only"
                        + " PyTorch pickle .bin weights, which flux4j does not read); it holds: config.json,"
                        + " pytorch_model.bin")
                .hasMessageContaining("weight_map['shared.weight'] must be a file name in the same folder");
    }

    @Test
    void reportsABadSchedulerConfigWithItsField() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        Files.writeString(root.resolve("scheduler/scheduler_config.json"), "{\"time_shift_type\": \"foo\"}");
        Files.writeString(root.resolve("vae/config.json"), "{\"latent_channels\": 16}");
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("scheduler_config.json: time_shift_type: 'foo' is not a time shift type")
                .hasMessageContaining("vae/config.json: block_out_channels must be a non-empty array");
    }

    @Test
    void refusesAVaeWithAnAbsurdNumberOfLevels() throws IOException {
        // 33 levels would make the scale factor 1 << 32, which Java wraps around to 1.
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        Files.writeString(root.resolve("vae/config.json"), "{\"block_out_channels\": [" + "8,".repeat(32) + "8]}");
        assertThatThrownBy(() -> FluxModelFolder.open(root))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("vae/config.json: block_out_channels has 33 entries, more than 10");
    }

    @Test
    void resolvesALocalPathOrRefusesNonsense() throws IOException {
        Path root = FakeFluxFolder.writeFolder(tmp.resolve("m"));
        HuggingFaceCache empty = new HuggingFaceCache(tmp.resolve("hub"));
        assertThat(FluxModelFolder.resolve(root.toString(), empty).root()).isEqualTo(root);
        assertThatThrownBy(() -> FluxModelFolder.resolve("a/b/c", empty))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("'a/b/c' is neither a folder nor a Hugging Face repository id");
        assertThatThrownBy(() -> FluxModelFolder.resolve("black-forest-labs/FLUX.1-dev@main", empty))
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("'black-forest-labs/FLUX.1-dev@main' is not a folder; as a repository id:")
                .hasMessageContaining("not in the local Hugging Face cache at " + tmp.resolve("hub"));
    }

    static void deleteTree(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void weightListsAreUnmodifiable() throws IOException {
        FluxModelFolder f = FluxModelFolder.open(FakeFluxFolder.writeFolder(tmp.resolve("m")));
        List<Path> w = f.weightFiles(FluxComponent.TEXT_ENCODER_2);
        assertThatThrownBy(() -> w.add(tmp)).isInstanceOf(UnsupportedOperationException.class);
    }
}
