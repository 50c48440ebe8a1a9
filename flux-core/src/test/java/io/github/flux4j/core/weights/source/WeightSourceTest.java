package io.github.flux4j.core.weights.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.testing.TinyFluxFiles.NamedArray;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.text.TextEncoderWeights;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The three weight formats present the same BFL tensors, byte for byte. */
class WeightSourceTest {
    @TempDir
    static Path dir;

    static Path gguf;
    static Path bfl;
    static Path folder;

    @BeforeAll
    static void writeFiles() throws IOException {
        gguf = TinyFluxFiles.write(Variant.DEV_F32, dir);
        bfl = TinyFluxFiles.writeBflSafetensors(dir);
        folder = TinyFluxFiles.writeDiffusersFolder(dir);
    }

    private static byte[] bytes(WeightSource s, WeightInfo t) {
        ByteBuffer b = s.read(t);
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    private static void assertSameTensors(WeightSource expected, WeightSource actual) {
        assertThat(names(actual)).isEqualTo(names(expected));
        for (WeightInfo e : expected.tensors()) {
            WeightInfo a = actual.tensor(e.name());
            assertThat(a.shape()).as(e.name()).containsExactly(e.shape());
            assertThat(a.type()).as(e.name()).isEqualTo(e.type());
            assertThat(bytes(actual, a)).as(e.name()).isEqualTo(bytes(expected, e));
        }
    }

    private static Set<String> names(WeightSource s) {
        return s.tensors().stream().map(WeightInfo::name).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void threeFormatsPresentTheSameTensors() throws IOException {
        try (WeightSource g = WeightSource.open(gguf);
                WeightSource b = WeightSource.open(bfl);
                WeightSource d = WeightSource.open(folder)) {
            assertThat(g.format()).isEqualTo(WeightFormat.GGUF);
            assertThat(b.format()).isEqualTo(WeightFormat.BFL_SAFETENSORS);
            assertThat(d.format()).isEqualTo(WeightFormat.DIFFUSERS);
            assertThat(g.architecture()).hasValue("flux");
            assertThat(b.architecture()).isEmpty();
            assertThat(d.config()).containsEntry("num_layers", 2).containsEntry("guidance_embeds", true);
            assertThat(names(g)).isEqualTo(TinyFluxFiles.shapes(true).keySet());
            assertSameTensors(g, b);
            assertSameTensors(g, d);

            WeightInfo qkv = d.tensor("double_blocks.0.img_attn.qkv.weight");
            assertThat(qkv.origin())
                    .contains(
                            "transformer_blocks.0.attn.to_q.weight",
                            "to_v.weight",
                            "diffusion_pytorch_model-00001-of-00002.safetensors");
            WeightInfo mod = d.tensor("final_layer.adaLN_modulation.1.weight");
            assertThat(mod.origin()).contains("halves swapped", "norm_out.linear.weight");
            // reading across the parts of a joined tensor, and within one part (a view)
            byte[] whole = bytes(d, qkv);
            long third = qkv.byteSize() / 3;
            ByteBuffer across = d.read(qkv, third - 8, 16);
            for (int i = 0; i < 16; i++) {
                assertThat(across.get(i)).isEqualTo(whole[(int) (third - 8 + i)]);
            }
            assertThat(d.read(qkv, 4, 8).get(0)).isEqualTo(whole[4]);
        }
    }

    @Test
    void unshardedDiffusersFileAndPipelineFolder() throws IOException {
        Path pipeline = dir.resolve("pipeline");
        Path transformer = pipeline.resolve("transformer");
        Files.createDirectories(transformer);
        List<NamedArray> all = new ArrayList<>(TinyFluxFiles.diffusersWeights().values());
        Files.write(transformer.resolve("diffusion_pytorch_model.safetensors"), TinyFluxFiles.safetensors(all));
        try (WeightSource g = WeightSource.open(gguf);
                WeightSource d = WeightSource.open(pipeline)) {
            assertThat(d.format()).isEqualTo(WeightFormat.DIFFUSERS);
            assertThat(d.path()).isEqualTo(transformer);
            assertThat(d.config()).isEmpty();
            assertSameTensors(g, d);
        }
        // the same diffusers-named file opened as a single file
        try (WeightSource g = WeightSource.open(gguf);
                WeightSource d = WeightSource.safetensors(transformer.resolve("diffusion_pytorch_model.safetensors"))) {
            assertThat(d.format()).isEqualTo(WeightFormat.DIFFUSERS);
            assertSameTensors(g, d);
        }
    }

    @Test
    void prefixedNamesAreStripped() throws IOException {
        Path prefixed = TinyFluxFiles.write(Variant.DEV_Q8_0_PREFIXED, dir);
        try (WeightSource s = WeightSource.open(prefixed)) {
            assertThat(s.find("img_in.weight")).isPresent();
            assertThat(s.find("model.diffusion_model.img_in.weight")).isPresent();
            assertThat(s.tensor("double_blocks.0.img_attn.qkv.weight").type()).isEqualTo(GgmlType.Q8_0);
            assertThat(s.tensor("double_blocks.0.img_attn.qkv.weight").origin()).startsWith("model.diffusion_model.");
        }
        // an all-in-one GGUF: the transformer under the prefix, a VAE tensor beside it
        List<TinyFluxFiles.Tensor> aioTensors = new ArrayList<>(TinyFluxFiles.tensors(Variant.DEV_Q8_0_PREFIXED));
        aioTensors.add(new TinyFluxFiles.Tensor(
                "first_stage_model.decoder.conv_in.bias",
                "first_stage_model.decoder.conv_in.bias",
                GgmlType.F32,
                new long[] {4},
                new byte[16]));
        Path aioGguf = TinyFluxFiles.write(Variant.DEV_Q8_0_PREFIXED, dir.resolve("aio"), aioTensors);
        try (WeightSource s = WeightSource.open(aioGguf)) {
            assertThat(names(s)).isEqualTo(TinyFluxFiles.shapes(true).keySet());
        }
        // an all-in-one BFL checkpoint: the transformer under the prefix, the VAE beside it
        List<NamedArray> list = new ArrayList<>();
        Map<String, long[]> shapes = TinyFluxFiles.shapes(true);
        TinyFluxFiles.bflWeights()
                .forEach((k, v) -> list.add(new NamedArray("model.diffusion_model." + k, shapes.get(k), v)));
        list.add(new NamedArray("first_stage_model.decoder.conv_in.bias", new long[] {4}, new float[4]));
        Path aio = dir.resolve("all-in-one.safetensors");
        Files.write(aio, TinyFluxFiles.safetensors(list));
        try (WeightSource g = WeightSource.open(gguf);
                WeightSource s = WeightSource.open(aio)) {
            assertThat(s.format()).isEqualTo(WeightFormat.BFL_SAFETENSORS);
            assertSameTensors(g, s);
        }
    }

    @Test
    void incompleteDiffusersGroupsAreExplained() throws IOException {
        Path broken = dir.resolve("broken");
        Files.createDirectories(broken);
        List<NamedArray> all = new ArrayList<>(TinyFluxFiles.diffusersWeights().values());
        all.removeIf(a -> a.name().equals("transformer_blocks.1.attn.to_v.weight"));
        Files.write(broken.resolve("diffusion_pytorch_model.safetensors"), TinyFluxFiles.safetensors(all));
        try (WeightSource s = WeightSource.open(broken)) {
            assertThat(s.find("double_blocks.1.img_attn.qkv.weight")).isEmpty();
            assertThat(s.find("double_blocks.1.img_attn.qkv.bias")).isPresent();
            assertThat(s.missingHint("double_blocks.1.img_attn.qkv.weight"))
                    .contains("transformer_blocks.1.attn.to_q.weight", "absent: transformer_blocks.1.attn.to_v.weight");
            assertThatThrownBy(() -> s.tensor("double_blocks.1.img_attn.qkv.weight"))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("absent: transformer_blocks.1.attn.to_v.weight");
        }
    }

    @Test
    void emptyAndForeignFilesAreReportedInTheFormatTheirNameSays() throws IOException {
        Path emptyGguf = Files.createFile(dir.resolve("empty.gguf"));
        assertThatThrownBy(() -> WeightSource.open(emptyGguf))
                .isInstanceOf(GgufFormatException.class)
                .hasMessageContaining(emptyGguf.toString())
                .hasMessageContaining("invalid GGUF");
        Path textGguf = Files.writeString(dir.resolve("not-really.GGUF"), "<html>404</html>");
        assertThatThrownBy(() -> WeightSource.open(textGguf))
                .isInstanceOf(GgufFormatException.class)
                .hasMessageContaining(textGguf.toString())
                .hasMessageContaining("bad magic");
        assertThatThrownBy(() -> TextEncoderWeights.open(emptyGguf, "text_encoder_2"))
                .isInstanceOf(GgufFormatException.class)
                .hasMessageContaining(emptyGguf.toString());

        Path emptySafetensors = Files.createFile(dir.resolve("empty.safetensors"));
        assertThatThrownBy(() -> WeightSource.open(emptySafetensors))
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(emptySafetensors.toString())
                .hasMessageContaining("safetensors header");
        // The magic still wins over the name: a GGUF file named .safetensors (or .bin) is read as GGUF.
        Path misnamed = Files.copy(gguf, dir.resolve("misnamed.safetensors"));
        try (WeightSource s = WeightSource.open(misnamed)) {
            assertThat(s.format()).isEqualTo(WeightFormat.GGUF);
        }
    }

    @Test
    void badDiffusersFoldersAreRejected() throws IOException {
        Path empty = dir.resolve("empty");
        Files.createDirectories(empty);
        assertThatThrownBy(() -> WeightSource.open(empty))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("not a diffusers transformer folder");

        Path missingShard = dir.resolve("missing-shard");
        Files.createDirectories(missingShard);
        Files.writeString(
                missingShard.resolve("diffusion_pytorch_model.safetensors.index.json"),
                "{\"weight_map\":{\"x_embedder.weight\":\"diffusion_pytorch_model-00001-of-00002.safetensors\"}}");
        assertThatThrownBy(() -> WeightSource.open(missingShard))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("diffusion_pytorch_model-00001-of-00002.safetensors")
                .hasMessageContaining("missing");

        Path mixed = dir.resolve("mixed");
        Files.createDirectories(mixed);
        List<NamedArray> all = new ArrayList<>(TinyFluxFiles.diffusersWeights().values());
        all.replaceAll(a -> a.name().equals("transformer_blocks.0.attn.to_k.weight")
                ? new NamedArray(a.name(), new long[] {a.shape()[0], a.shape()[1] / 2}, new float[a.data().length / 2])
                : a);
        Files.write(mixed.resolve("diffusion_pytorch_model.safetensors"), TinyFluxFiles.safetensors(all));
        assertThatThrownBy(() -> WeightSource.open(mixed))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("transformer_blocks.0.attn.to_k.weight")
                .hasMessageContaining("double_blocks.0.img_attn.qkv.weight");
    }

    @Test
    void diffusersNamesRoundTrip() {
        for (String bflName : TinyFluxFiles.shapes(true).keySet()) {
            List<String> diff = DiffusersNames.toDiffusers(bflName);
            assertThat(diff).as(bflName).isNotEmpty().doesNotContain("");
            for (int i = 0; i < diff.size(); i++) {
                DiffusersNames.Target t = DiffusersNames.toBfl(diff.get(i)).orElseThrow();
                assertThat(t.bflName()).isEqualTo(bflName);
                assertThat(t.part()).isEqualTo(i);
                assertThat(t.parts()).isEqualTo(diff.size());
            }
        }
        Set<String> diffusersNames = TinyFluxFiles.diffusersWeights().keySet();
        for (String d : diffusersNames) {
            assertThat(DiffusersNames.toBfl(d)).as(d).isPresent();
        }
        assertThat(DiffusersNames.toDiffusers("single_blocks.7.linear1.weight"))
                .containsExactly(
                        "single_transformer_blocks.7.attn.to_q.weight", "single_transformer_blocks.7.attn.to_k.weight",
                        "single_transformer_blocks.7.attn.to_v.weight", "single_transformer_blocks.7.proj_mlp.weight");
        assertThat(DiffusersNames.toDiffusers("double_blocks.3.txt_attn.norm.key_norm.scale"))
                .containsExactly("transformer_blocks.3.attn.norm_added_k.weight");
        assertThat(DiffusersNames.toBfl("norm_out.linear.bias").orElseThrow().swapHalves())
                .isTrue();
        assertThat(DiffusersNames.toBfl("transformer_blocks.0.attn.norm_q.bias"))
                .isEmpty();
        assertThat(DiffusersNames.toBfl("unknown.weight")).isEmpty();
    }
}
