package io.github.flux4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.WeightBindingException;
import io.github.flux4j.core.weights.WeightBindingException.Kind;
import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightFormat;
import io.github.flux4j.core.weights.source.WeightInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Loading the tiny VAE from its folder and BFL file, and every way loading should fail. */
class VaeLoadingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final LoadOptions F32 = LoadOptions.defaults().withDtype(ComputeDtype.F32);

    @TempDir
    Path tmp;

    @Test
    void strictLoadUsesEveryDecoderTensorAndSkipsTheEncoder() throws IOException {
        long decoderTensors;
        long encoderTensors;
        long decoderBytes;
        try (SafetensorsFile f =
                SafetensorsFile.open(VaeReference.folder().resolve(VaeWeightSource.DIFFUSERS_WEIGHTS))) {
            decoderTensors = f.tensors().stream()
                    .filter(e -> e.name().startsWith("decoder."))
                    .count();
            decoderBytes = f.tensors().stream()
                    .filter(e -> e.name().startsWith("decoder."))
                    .mapToLong(WeightInfo::byteSize)
                    .sum();
            encoderTensors = f.tensors().stream()
                    .filter(e -> e.name().startsWith("encoder."))
                    .count();
        }
        assertThat(encoderTensors).isEqualTo(104); // a realistic file: the whole encoder is there
        try (VaeWeightSource source = VaeWeightSource.open(VaeReference.folder())) {
            assertThat(source.skipped()).isEqualTo(encoderTensors);
            assertThat(source.format()).isEqualTo(WeightFormat.DIFFUSERS);
            assertThat(source.tensors()).hasSize((int) decoderTensors);
        }
        try (VaeDecoder vae = VaeDecoder.load(VaeReference.folder(), F32)) {
            assertThat(vae.leftovers()).isEmpty();
            assertThat(vae.sourceBytes()).isEqualTo(decoderBytes);
            assertThat(vae.config().blockOutChannels()).containsExactly(16, 16, 24, 24);
            assertThat(vae.config().normNumGroups()).isEqualTo(8);
        }
    }

    @Test
    void aPipelineFolderIsSearchedForItsVae() throws IOException {
        Path vaeDir = tmp.resolve("FLUX.1-tiny/vae");
        copyFolder(vaeDir);
        try (VaeDecoder vae = VaeDecoder.load(tmp.resolve("FLUX.1-tiny"), LoadOptions.defaults())) {
            assertThat(vae.config().latentChannels()).isEqualTo(16);
        }
    }

    @Test
    void aMissingTensorIsNamed() throws IOException {
        Path dir =
                folderWith(items -> items.removeIf(i -> i.name().equals("decoder.up_blocks.1.resnets.2.conv2.weight")));
        WeightBindingException e = catchThrowableOfType(WeightBindingException.class, () -> VaeDecoder.load(dir, F32));
        assertThat(e.problems()).hasSize(1);
        assertThat(e.problems(Kind.MISSING))
                .extracting(WeightBindingException.Problem::name)
                .containsExactly("decoder.up_blocks.1.resnets.2.conv2.weight");
        assertThat(e.getMessage()).contains(dir.toString()).contains("expected [24, 24, 3, 3]");
    }

    @Test
    void aWrongShapeIsNamedWithBothShapes() throws IOException {
        String name = "decoder.mid_block.attentions.0.to_q.weight";
        Path dir = folderWith(items -> items.replaceAll(i -> i.name().equals(name)
                ? new SafetensorsRewriter.Item(name, i.dtype(), new long[] {12, 48}, i.data())
                : i));
        WeightBindingException e = catchThrowableOfType(WeightBindingException.class, () -> VaeDecoder.load(dir, F32));
        assertThat(e.problems()).singleElement().satisfies(p -> {
            assertThat(p.kind()).isEqualTo(Kind.SHAPE);
            assertThat(p.name()).isEqualTo(name);
            assertThat(p.detail()).contains("expected [24, 24]").contains("BF16 [12, 48]");
        });
    }

    @Test
    void problemsAreReportedTogether() throws IOException {
        Path dir = folderWith(items -> {
            items.removeIf(i -> i.name().startsWith("decoder.conv_norm_out."));
            items.removeIf(i -> i.name().equals("decoder.up_blocks.2.resnets.0.conv_shortcut.bias"));
        });
        WeightBindingException e = catchThrowableOfType(WeightBindingException.class, () -> VaeDecoder.load(dir, F32));
        assertThat(e.problems(Kind.MISSING))
                .extracting(WeightBindingException.Problem::name)
                .containsExactlyInAnyOrder(
                        "decoder.conv_norm_out.weight",
                        "decoder.conv_norm_out.bias",
                        "decoder.up_blocks.2.resnets.0.conv_shortcut.bias");
    }

    @Test
    void anUnknownDecoderTensorFailsStrictAndIsALeftoverOtherwise() throws IOException {
        Path dir = folderWith(items ->
                items.add(new SafetensorsRewriter.Item("decoder.extra.weight", "F32", new long[] {2}, new byte[8])));
        WeightBindingException e = catchThrowableOfType(WeightBindingException.class, () -> VaeDecoder.load(dir, F32));
        assertThat(e.problems()).singleElement().satisfies(p -> {
            assertThat(p.kind()).isEqualTo(Kind.UNEXPECTED);
            assertThat(p.name()).isEqualTo("decoder.extra.weight");
        });
        try (VaeDecoder vae = VaeDecoder.load(dir, F32.withStrict(false))) {
            assertThat(vae.leftovers()).extracting(WeightInfo::name).containsExactly("decoder.extra.weight");
        }
    }

    @Test
    void aNonFloatTensorIsATypeProblem() throws IOException {
        String name = "decoder.conv_in.bias";
        Path dir = folderWith(items -> items.replaceAll(
                i -> i.name().equals(name) ? new SafetensorsRewriter.Item(name, "I16", i.shape(), i.data()) : i));
        WeightBindingException e = catchThrowableOfType(WeightBindingException.class, () -> VaeDecoder.load(dir, F32));
        assertThat(e.problems(Kind.TYPE))
                .extracting(WeightBindingException.Problem::name)
                .containsExactly(name);
    }

    static Stream<Arguments> badConfigs() {
        return Stream.of(
                Arguments.of("act_fn", "gelu", "act_fn is \"gelu\"; only \"silu\" is implemented"),
                Arguments.of("norm_num_groups", 5, "must be positive multiples of norm_num_groups 5"),
                Arguments.of("scaling_factor", "0.3611", "scaling_factor must be a number, got \"0.3611\""),
                Arguments.of("scaling_factor", 0, "scaling_factor must be positive"),
                Arguments.of("latent_channels", 16.5, "latent_channels must be an integer, got 16.5"),
                Arguments.of("block_out_channels", null, "block_out_channels is missing"),
                Arguments.of("block_out_channels", List.of(16, 16, 24, -24), "block_out_channels [16, 16, 24, -24]"),
                Arguments.of(
                        "up_block_types",
                        List.of("UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "AttnUpDecoderBlock2D"),
                        "only \"UpDecoderBlock2D\" is implemented"),
                Arguments.of("use_post_quant_conv", "no", "use_post_quant_conv must be true or false"),
                Arguments.of("_class_name", "AutoencoderTiny", "_class_name is \"AutoencoderTiny\""));
    }

    @ParameterizedTest
    @MethodSource("badConfigs")
    void aBadConfigValueIsNamed(String field, Object value, String message) throws IOException {
        Path dir = folderWithConfig(cfg -> {
            if (value == null) {
                cfg.remove(field);
            } else {
                cfg.put(field, value);
            }
        });
        assertThatThrownBy(() -> VaeDecoder.load(dir, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(dir.resolve("config.json").toString())
                .hasMessageContaining(message);
    }

    @Test
    void aConfigAskingForAPostQuantConvNeedsIt() throws IOException {
        Path dir = folderWithConfig(cfg -> cfg.put("use_post_quant_conv", true));
        WeightBindingException e = catchThrowableOfType(WeightBindingException.class, () -> VaeDecoder.load(dir, F32));
        assertThat(e.problems(Kind.MISSING))
                .extracting(WeightBindingException.Problem::name)
                .containsExactly("post_quant_conv.weight", "post_quant_conv.bias");
    }

    @Test
    void incompleteFoldersAreRejected() throws IOException {
        Path noConfig = copyFolder(tmp.resolve("no-config"));
        Files.delete(noConfig.resolve("config.json"));
        assertThatThrownBy(() -> VaeDecoder.load(noConfig, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("has no config.json");

        Path noWeights = Files.createDirectories(tmp.resolve("no-weights"));
        Files.copy(VaeReference.folder().resolve("config.json"), noWeights.resolve("config.json"));
        assertThatThrownBy(() -> VaeDecoder.load(noWeights, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("has no diffusion_pytorch_model.safetensors");

        Path badJson = copyFolder(tmp.resolve("bad-json"));
        Files.writeString(badJson.resolve("config.json"), "{\"block_out_channels\": [16,");
        assertThatThrownBy(() -> VaeDecoder.load(badJson, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("config.json is not a JSON object");

        assertThatThrownBy(() -> VaeDecoder.load(tmp.resolve("absent.safetensors"), F32))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(java.nio.file.NoSuchFileException.class);
    }

    @Test
    void bflNamesAreDiffusersNames() {
        assertThat(VaeWeightSource.bflToDiffusers("decoder.up.3.block.0.conv1.weight", 4))
                .isEqualTo("decoder.up_blocks.0.resnets.0.conv1.weight");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.up.1.block.0.nin_shortcut.bias", 4))
                .isEqualTo("decoder.up_blocks.2.resnets.0.conv_shortcut.bias");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.up.1.upsample.conv.weight", 4))
                .isEqualTo("decoder.up_blocks.2.upsamplers.0.conv.weight");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.mid.block_2.norm2.bias", 4))
                .isEqualTo("decoder.mid_block.resnets.1.norm2.bias");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.mid.attn_1.norm.weight", 4))
                .isEqualTo("decoder.mid_block.attentions.0.group_norm.weight");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.mid.attn_1.proj_out.bias", 4))
                .isEqualTo("decoder.mid_block.attentions.0.to_out.0.bias");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.mid.attn_1.k.weight", 4))
                .isEqualTo("decoder.mid_block.attentions.0.to_k.weight");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.norm_out.weight", 4))
                .isEqualTo("decoder.conv_norm_out.weight");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.conv_in.weight", 4)).isEqualTo("decoder.conv_in.weight");
        assertThat(VaeWeightSource.bflToDiffusers("decoder.up.4.block.0.conv1.weight", 4))
                .as("beyond the levels: kept, so binding reports it")
                .isEqualTo("decoder.up.4.block.0.conv1.weight");
    }

    @Test
    void theBflFilePresentsAttentionConvsAsLinears() throws IOException {
        try (VaeWeightSource source = VaeWeightSource.open(VaeReference.bflFile())) {
            assertThat(source.format()).isEqualTo(WeightFormat.BFL_SAFETENSORS);
            assertThat(source.skipped()).isEqualTo(5); // the encoder.* tensors of the file
            WeightInfo q = source.tensor("decoder.mid_block.attentions.0.to_q.weight");
            assertThat(q.shape()).containsExactly(24, 24);
            assertThat(q.origin()).contains("decoder.mid.attn_1.q.weight");
            assertThat(source.find("decoder.up_blocks.0.resnets.2.conv2.weight"))
                    .isPresent();
            assertThat(source.tensors()).noneMatch(t -> t.name().startsWith("encoder."));
        }
    }

    @Test
    void theBflFileNeedsItsConfigWhenNotFluxSized() throws IOException {
        // Without config.json a file is taken to be FLUX's VAE; the tiny one then fails on shapes,
        // every one listed.
        WeightBindingException e =
                catchThrowableOfType(WeightBindingException.class, () -> VaeDecoder.load(VaeReference.bflFile(), F32));
        assertThat(e.problems(Kind.SHAPE))
                .extracting(WeightBindingException.Problem::name)
                .contains("decoder.conv_in.weight");
        assertThat(e.getMessage()).contains("expected [512, 16, 3, 3]").contains("BFL names");
    }

    @Test
    void anAllInOneCheckpointsVaeIsFoundByItsPrefix() throws IOException {
        Path file = tmp.resolve("all-in-one.safetensors");
        SafetensorsRewriter.rewrite(VaeReference.bflFile(), file, items -> {
            items.replaceAll(
                    i -> new SafetensorsRewriter.Item("first_stage_model." + i.name(), i.dtype(), i.shape(), i.data()));
            items.add(new SafetensorsRewriter.Item(
                    "model.diffusion_model.img_in.bias", "F32", new long[] {2}, new byte[8]));
        });
        try (VaeDecoder vae = VaeDecoder.load(file, VaeDecoderReferenceTest.readTinyConfig(), F32)) {
            assertThat(vae.leftovers()).isEmpty();
        }
    }

    @Test
    void theShapeListOfTheCudaTestIsTheTinyFilesDecoder() throws IOException {
        Map<String, long[]> shapes = VaeCudaTest.decoderShapes(VaeDecoderReferenceTest.readTinyConfig());
        try (VaeWeightSource source = VaeWeightSource.open(VaeReference.folder())) {
            assertThat(shapes.keySet())
                    .containsExactlyInAnyOrderElementsOf(
                            source.tensors().stream().map(WeightInfo::name).toList());
            shapes.forEach((name, shape) ->
                    assertThat(source.tensor(name).shape()).as(name).containsExactly(shape));
        }
    }

    @Test
    void aFluxSizedFolderLoadsStrictlyAndDecodes() throws IOException {
        // FLUX.1's VAE shapes (49.5M decoder parameters) with random values: the preset and the
        // FLUX config.json bind it strictly; a 4x4 latent keeps the CPU decode short.
        Path dir = VaeCudaTest.writeRandomFluxVae(tmp.resolve("flux-vae"));
        try (VaeDecoder vae = VaeDecoder.load(dir, LoadOptions.defaults());
                PointerScope scope = new PointerScope()) {
            assertThat(vae.config()).isEqualTo(VaeConfig.flux());
            assertThat(vae.sourceBytes()).isEqualTo(2L * 49_545_475); // decoder parameters, bf16
            Tensor img = vae.decodeLatents(
                    torch.randn(new long[] {1, 16, 4, 4}, new TensorOptions(ScalarType.Float)), false);
            assertThat(img.shape()).containsExactly(1, 3, 32, 32);
            assertThat(torch.isfinite(img).all().item_bool()).isTrue();
        }
    }

    @Test
    void decodingChecksItsInputAndState() throws IOException {
        VaeDecoder vae = VaeDecoder.load(VaeReference.folder(), F32);
        try (PointerScope scope = new PointerScope()) {
            Tensor wrong = torch.zeros(new long[] {1, 4, 8, 8}, new TensorOptions(ScalarType.Float));
            assertThatThrownBy(() -> vae.decode(wrong))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("latents must be [B, 16, h, w], got [1, 4, 8, 8]");
            assertThatThrownBy(() -> vae.decodeTiled(
                            torch.zeros(new long[] {1, 16, 8, 8}, new TensorOptions(ScalarType.Float)), 12, 0.25))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("multiple of 8");
            vae.close();
            vae.close(); // idempotent
            assertThatThrownBy(() -> vae.decode(wrong))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        }
    }

    // ---------------------------------------------------------------------------------- helpers

    private Path copyFolder(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String f : List.of("config.json", VaeWeightSource.DIFFUSERS_WEIGHTS)) {
            Files.copy(VaeReference.folder().resolve(f), dir.resolve(f));
        }
        return dir;
    }

    /** The tiny folder with its weights edited. */
    private Path folderWith(Consumer<List<SafetensorsRewriter.Item>> edit) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("edited"));
        Files.copy(VaeReference.folder().resolve("config.json"), dir.resolve("config.json"));
        SafetensorsRewriter.rewrite(
                VaeReference.folder().resolve(VaeWeightSource.DIFFUSERS_WEIGHTS),
                dir.resolve(VaeWeightSource.DIFFUSERS_WEIGHTS),
                edit);
        return dir;
    }

    /** The tiny folder with its config.json edited. */
    private Path folderWithConfig(Consumer<Map<String, Object>> edit) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("config-edited"));
        Files.copy(
                VaeReference.folder().resolve(VaeWeightSource.DIFFUSERS_WEIGHTS),
                dir.resolve(VaeWeightSource.DIFFUSERS_WEIGHTS));
        Map<String, Object> cfg = JSON.readValue(
                VaeReference.folder().resolve("config.json").toFile(),
                new TypeReference<LinkedHashMap<String, Object>>() {});
        edit.accept(cfg);
        JSON.writeValue(dir.resolve("config.json").toFile(), cfg);
        return dir;
    }
}
