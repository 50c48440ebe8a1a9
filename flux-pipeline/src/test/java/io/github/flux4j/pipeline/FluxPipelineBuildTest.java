package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.vae.RgbImage;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.pipeline.model.FluxModelFolder;
import io.github.flux4j.pipeline.model.ModelFolderException;
import io.github.flux4j.tokenizers.TokenizerFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FluxPipeline.Builder#build()} on missing and broken parts: each error names what is wrong. */
class FluxPipelineBuildTest {
    @TempDir
    Path dir;

    private FluxPipeline.Builder builder(Path folder) {
        return FluxPipeline.builder()
                .transformer(TinyPipeline.gguf(TinyFluxFiles.Variant.DEV_Q8_0))
                .baseModel(folder)
                .device(FluxDevice.cpu())
                .computeDtype(ComputeDtype.F32);
    }

    private static void replace(Path file, String from, String to) throws IOException {
        String s = Files.readString(file);
        assertThat(s).contains(from);
        Files.writeString(file, s.replace(from, to));
    }

    @Test
    void theTransformerAndTheBaseModelAreRequired() {
        assertThatThrownBy(() ->
                        FluxPipeline.builder().baseModel(TinyPipeline.folder()).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no transformer");
        assertThatThrownBy(() -> FluxPipeline.builder()
                        .transformer(TinyPipeline.gguf(TinyFluxFiles.Variant.DEV_Q8_0))
                        .build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no base model");
    }

    @Test
    void aMissingComponentFolderIsNamed() throws IOException {
        Path folder = TinyPipeline.assemble(dir.resolve("tiny"));
        TinyPipeline.deleteQuietly(folder.resolve("vae"));
        TinyPipeline.deleteQuietly(folder.resolve("tokenizer_2"));
        assertThatThrownBy(() -> builder(folder).build())
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("vae/ is missing")
                .hasMessageContaining("tokenizer_2/ is missing");
        assertThatThrownBy(() -> builder(dir.resolve("nowhere")).build())
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("no such folder");
    }

    @Test
    void configValuesThatAreNotSupportedAreNamed() throws IOException {
        Path a = TinyPipeline.assemble(dir.resolve("a"));
        replace(
                a.resolve("scheduler/scheduler_config.json"),
                "\"time_shift_type\": \"exponential\"",
                "\"time_shift_type\": \"cosine\"");
        assertThatThrownBy(() -> builder(a).build())
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("time_shift_type")
                .hasMessageContaining("cosine");

        Path b = TinyPipeline.assemble(dir.resolve("b"));
        replace(b.resolve("vae/config.json"), "\"act_fn\": \"silu\"", "\"act_fn\": \"gelu\"");
        assertThatThrownBy(() -> builder(b).build())
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("act_fn")
                .hasMessageContaining("gelu")
                .hasMessageContaining("config.json");

        Path c = TinyPipeline.assemble(dir.resolve("c"));
        replace(
                c.resolve("text_encoder_2/config.json"),
                "\"feed_forward_proj\": \"gated-gelu\"",
                "\"feed_forward_proj\": \"gated-swishy\"");
        assertThatThrownBy(() -> builder(c).build())
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("text_encoder_2")
                .hasMessageContaining("config.json")
                .hasMessageContaining("swishy");
    }

    @Test
    void aTokenizerFileThatDoesNotParseIsNamed() throws IOException {
        Path a = TinyPipeline.assemble(dir.resolve("a"));
        Files.writeString(
                a.resolve("tokenizer/tokenizer.json"),
                "{\"model\": {\"type\": \"BPE\", \"vocab\": [1, 2",
                StandardCharsets.UTF_8);
        assertThatThrownBy(() -> builder(a).build())
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("tokenizer.json");

        Path b = TinyPipeline.assemble(dir.resolve("b"));
        Files.delete(b.resolve("tokenizer_2/tokenizer.json"));
        byte[] spiece = Files.readAllBytes(b.resolve("tokenizer_2/spiece.model"));
        Files.write(b.resolve("tokenizer_2/spiece.model"), java.util.Arrays.copyOf(spiece, spiece.length / 3));
        assertThatThrownBy(() -> builder(b).build())
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("spiece.model");
    }

    @Test
    void componentsThatDoNotFitTogetherAreNamed() throws IOException {
        // flux-core's tiny T5 GGUF has d_model 64; the tiny transformer's txt_in takes 128.
        // The file is in flux-core's tests jar: the class loader's lookup, since Class.getResourceAsStream
        // of a class in a named module (the tests run patched into io.github.flux4j.pipeline) looks in
        // that module only.
        Path t5 = dir.resolve("t5-tiny-Q8_0.gguf");
        try (InputStream in = Objects.requireNonNull(
                getClass().getClassLoader().getResourceAsStream("reference/text/t5-gguf/t5-tiny-Q8_0.gguf"))) {
            Files.copy(in, t5);
        }
        assertThatThrownBy(() -> builder(TinyPipeline.folder()).t5Gguf(t5).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("txt_in takes 128")
                .hasMessageContaining("d_model 64")
                .hasMessageContaining("t5-tiny-Q8_0.gguf");
    }

    @Test
    void aGivenTransformerOfAnotherDtypeIsRefusedAndClosed() throws IOException {
        FluxTransformer bf16 = GgufTransformer.load(
                TinyPipeline.gguf(TinyFluxFiles.Variant.DEV_Q8_0),
                LoadOptions.defaults().withDtype(ComputeDtype.BF16));
        assertThatThrownBy(() -> FluxPipeline.builder()
                        .transformer(bf16)
                        .baseModel(TinyPipeline.folder())
                        .device(FluxDevice.cpu())
                        .computeDtype(ComputeDtype.F32)
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("computes in BF16")
                .hasMessageContaining("F32");
        assertThatThrownBy(() -> bf16.moveTo(FluxDevice.cpu())).hasMessageContaining("closed");
    }

    @Test
    void aGivenTransformerServesOneBuildOnly() throws IOException {
        FluxTransformer t = GgufTransformer.load(
                TinyPipeline.gguf(TinyFluxFiles.Variant.DEV_Q8_0),
                LoadOptions.defaults().withDtype(ComputeDtype.F32));
        FluxPipeline.Builder b = FluxPipeline.builder()
                .transformer(t)
                .baseModel(TinyPipeline.folder())
                .device(FluxDevice.cpu())
                .computeDtype(ComputeDtype.F32);
        try (FluxPipeline p = b.build()) {
            assertThat(p.transformerConfig().guidanceEmbed()).isTrue();
            assertThatThrownBy(b::build)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("no transformer");
        }
    }

    @Test
    void aMissingTransformerFileIsAnIoError() {
        assertThatThrownBy(() -> builder(TinyPipeline.folder())
                        .transformer(dir.resolve("missing.gguf"))
                        .build())
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("missing.gguf");
    }

    @Test
    void cudaMustBeUsable() {
        assumeFalse(FluxDevice.cudaAvailable(), "CUDA is available here");
        assertThatThrownBy(() -> builder(TinyPipeline.folder())
                        .device(FluxDevice.cuda(0))
                        .build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cuda:0 is not usable");
    }

    @Test
    void aGgufT5NeedsNoText_encoder_2Weights() throws IOException {
        Path folder = TinyPipeline.assemble(dir.resolve("tiny"));
        Path f32 = T5Gguf.write(folder.resolve("text_encoder_2"), dir.resolve("t5-F32.gguf"), GgmlType.F32);
        TinyPipeline.deleteQuietly(folder.resolve("text_encoder_2"));
        assertThatThrownBy(() -> builder(folder).build())
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("text_encoder_2/ is missing")
                .hasMessageContaining("t5Gguf");
        GenerationOptions o = GenerationOptions.builder()
                .size(32, 32)
                .steps(1)
                .maxSequenceLength(16)
                .seed(4)
                .build();
        try (FluxPipeline p = builder(folder).t5Gguf(f32).build()) {
            assertThat(p.generate("a fox in the snow", o).image().width()).isEqualTo(32);
        }
        // A folder opened without T5 weights, and no GGUF T5 either.
        FluxModelFolder opened = FluxModelFolder.open(folder, FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL);
        assertThatThrownBy(() -> builder(folder).baseModel(opened).build())
                .isInstanceOf(ModelFolderException.class)
                .hasMessageContaining("text_encoder_2/ has no T5 weights")
                .hasMessageContaining("t5Gguf");
    }

    @Test
    void aGgufT5ReplacesTheFoldersT5() throws IOException {
        // The folder's T5 written as a llama.cpp GGUF: in F32 (its bf16 values exactly) the image is
        // the same; quantized to Q8_0 it is close.
        Path f32 =
                T5Gguf.write(TinyPipeline.folder().resolve("text_encoder_2"), dir.resolve("t5-F32.gguf"), GgmlType.F32);
        Path q8 = T5Gguf.write(
                TinyPipeline.folder().resolve("text_encoder_2"), dir.resolve("t5-Q8_0.gguf"), GgmlType.Q8_0);
        GenerationOptions o = GenerationOptions.builder()
                .size(32, 32)
                .steps(2)
                .maxSequenceLength(16)
                .seed(4)
                .build();
        RgbImage folderT5;
        try (FluxPipeline p = builder(TinyPipeline.folder()).build()) {
            folderT5 = p.generate("a fox in the snow", o).image();
        }
        try (FluxPipeline p = builder(TinyPipeline.folder()).t5Gguf(f32).build()) {
            assertThat(p.generate("a fox in the snow", o).image()).isEqualTo(folderT5);
        }
        try (FluxPipeline p = builder(TinyPipeline.folder()).t5Gguf(q8).build()) {
            RgbImage quantized = p.generate("a fox in the snow", o).image();
            assertThat(FluxPipelineTest.psnr(quantized, folderT5)).isGreaterThan(25);
        }
    }
}
