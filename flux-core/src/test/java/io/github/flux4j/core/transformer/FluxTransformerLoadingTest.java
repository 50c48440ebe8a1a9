package io.github.flux4j.core.transformer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.WeightBindingException;
import io.github.flux4j.core.weights.WeightBindingException.Kind;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading from the three formats, binding errors, and the forward's contract (shapes, scopes, trace). */
class FluxTransformerLoadingTest {
    static final LoadOptions F32 = LoadOptions.defaults().withDtype(ComputeDtype.F32);

    @TempDir
    static Path dir;

    static Path gguf;

    @BeforeAll
    static void writeFiles() throws IOException {
        gguf = TinyFluxFiles.write(Variant.DEV_F32, dir);
    }

    /** Random inputs for the tiny model: B=1, 24 image tokens (4 x 6), 8 text tokens. */
    static Map<String, Tensor> inputs(long seed) {
        Generator g = torch.make_generator_cpu(seed);
        TensorOptions f32 = new TensorOptions(ScalarType.Float);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("img", torch.randn(new long[] {1, 24, 64}, new GeneratorOptional(g), f32));
        Tensor ids = torch.zeros(new long[] {24, 3}, f32);
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 6; c++) {
                ids.select(0, r * 6 + c).select(0, 1).fill_(new org.bytedeco.pytorch.Scalar(r));
                ids.select(0, r * 6 + c).select(0, 2).fill_(new org.bytedeco.pytorch.Scalar(c));
            }
        }
        in.put("imgIds", ids);
        in.put("txt", torch.randn(new long[] {1, 8, 128}, new GeneratorOptional(g), f32));
        in.put("txtIds", torch.zeros(new long[] {8, 3}, f32));
        in.put("timestep", torch.full(new long[] {1}, new org.bytedeco.pytorch.Scalar(0.5), f32));
        in.put("y", torch.randn(new long[] {1, 96}, new GeneratorOptional(g), f32));
        in.put("guidance", torch.full(new long[] {1}, new org.bytedeco.pytorch.Scalar(4.0), f32));
        return in;
    }

    static Tensor forward(FluxTransformer m, Map<String, Tensor> in, ForwardTrace trace) {
        return m.forward(
                in.get("img"),
                in.get("imgIds"),
                in.get("txt"),
                in.get("txtIds"),
                in.get("timestep"),
                in.get("y"),
                m.config().guidanceEmbed() ? in.get("guidance") : null,
                trace);
    }

    @Test
    void threeFormatsGiveIdenticalOutputs() throws IOException {
        Path bfl = TinyFluxFiles.writeBflSafetensors(dir);
        Path folder = TinyFluxFiles.writeDiffusersFolder(dir);
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> in = inputs(1);
            Tensor a;
            Tensor b;
            Tensor c;
            try (FluxTransformer m = GgufTransformer.load(gguf, F32)) {
                a = forward(m, in, ForwardTrace.NONE);
            }
            try (FluxTransformer m = FluxTransformer.load(bfl, F32)) {
                b = forward(m, in, ForwardTrace.NONE);
            }
            try (WeightSource s = WeightSource.diffusers(folder);
                    FluxTransformer m = FluxTransformer.load(s, F32)) {
                c = forward(m, in, ForwardTrace.NONE);
            }
            assertThat(Tensors.shape(a)).containsExactly(1, 24, 64);
            assertThat(torch.isfinite(a).all().item_bool()).isTrue();
            assertThat(a.abs().max().item_float()).isGreaterThan(0f);
            // same float32 weights, same ops: bit for bit
            assertThat(torch.equal(a, b)).isTrue();
            assertThat(torch.equal(a, c)).isTrue();
        }
    }

    @Test
    void forwardFreesItsTemporariesAndTracesIntermediates() throws IOException {
        try (FluxTransformer m = GgufTransformer.load(gguf, F32)) {
            assertThat(m.config().guidanceEmbed()).isTrue();
            assertThat(m.leftovers()).isEmpty();
            assertThat(m.weightBytes()).isPositive().isLessThan(Files.size(gguf));
            assertThat(m.toString()).contains("dev", "2+2", "cpu", "F32");
            Map<String, long[]> seen = new LinkedHashMap<>();
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> in = inputs(2);
                forward(m, in, ForwardTrace.NONE); // warm-up (lazily created natives)
                long before = NativeMemory.livePointers();
                Tensor out = forward(m, in, (name, t) -> seen.put(name, Tensors.shape(t)));
                assertThat(NativeMemory.livePointers() - before).isEqualTo(1); // only the result
                assertThat(out.isNull()).isFalse();
                Tensor again = forward(m, in, ForwardTrace.NONE);
                assertThat(torch.equal(out, again)).isTrue();
            }
            assertThat(seen.keySet())
                    .containsExactly(
                            "x_embedder",
                            "timestep_proj",
                            "guidance_proj",
                            "temb",
                            "context_embedder",
                            "rope_cos",
                            "rope_sin",
                            "double.0.encoder_hidden_states",
                            "double.0.hidden_states",
                            "double.1.encoder_hidden_states",
                            "double.1.hidden_states",
                            "single.0.encoder_hidden_states",
                            "single.0.hidden_states",
                            "single.1.encoder_hidden_states",
                            "single.1.hidden_states",
                            "norm_out",
                            "output");
            assertThat(seen.get("rope_cos")).containsExactly(32, 128);
            assertThat(seen.get("single.1.hidden_states")).containsExactly(1, 24, 256);
            assertThat(seen.get("timestep_proj")).containsExactly(1, 256);
        }
    }

    @Test
    void forwardChecksItsInputs() throws IOException {
        try (FluxTransformer m = GgufTransformer.load(gguf, F32);
                PointerScope scope = new PointerScope()) {
            Map<String, Tensor> in = inputs(3);
            assertThatThrownBy(() -> m.forward(
                            in.get("img"),
                            in.get("imgIds"),
                            in.get("txt"),
                            in.get("txtIds"),
                            in.get("timestep"),
                            in.get("y"),
                            null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("guidance");
            assertThatThrownBy(() -> m.forward(
                            in.get("txt"),
                            in.get("imgIds"),
                            in.get("txt"),
                            in.get("txtIds"),
                            in.get("timestep"),
                            in.get("y"),
                            in.get("guidance")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("img must be [B, Simg, 64]");
            assertThatThrownBy(() -> m.forward(
                            in.get("img"),
                            in.get("txtIds"),
                            in.get("txt"),
                            in.get("txtIds"),
                            in.get("timestep"),
                            in.get("y"),
                            in.get("guidance")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("imgIds must be [24, 3]");
        }
    }

    @Test
    void schnellIgnoresGuidance() throws IOException {
        Path schnell = TinyFluxFiles.write(Variant.SCHNELL_F32, dir);
        try (FluxTransformer m = GgufTransformer.load(schnell, F32);
                PointerScope scope = new PointerScope()) {
            Map<String, Tensor> in = inputs(4);
            Tensor a = m.forward(
                    in.get("img"),
                    in.get("imgIds"),
                    in.get("txt"),
                    in.get("txtIds"),
                    in.get("timestep"),
                    in.get("y"),
                    null);
            Tensor b = m.forward(
                    in.get("img"),
                    in.get("imgIds"),
                    in.get("txt"),
                    in.get("txtIds"),
                    in.get("timestep"),
                    in.get("y"),
                    in.get("guidance"));
            assertThat(torch.equal(a, b)).isTrue();
            assertThat(m.config().guidanceEmbed()).isFalse();
        }
    }

    // ------------------------------------------------------------------------------ bad files

    private static List<TinyFluxFiles.Tensor> tensors(Variant v) {
        return new ArrayList<>(TinyFluxFiles.tensors(v));
    }

    @Test
    void allBindingProblemsAreReportedTogether() throws IOException {
        List<TinyFluxFiles.Tensor> list = tensors(Variant.DEV_Q4_K);
        list.removeIf(t -> t.canonical().equals("double_blocks.1.txt_attn.norm.key_norm.scale"));
        list.removeIf(t -> t.canonical().equals("single_blocks.0.linear2.bias"));
        list.replaceAll(t -> t.canonical().equals("double_blocks.0.img_mlp.2.weight")
                ? new TinyFluxFiles.Tensor(
                        t.name(), t.canonical(), GgmlType.F32, new long[] {256, 512}, new byte[256 * 512 * 4])
                : t);
        list.add(new TinyFluxFiles.Tensor(
                "lora_unet.extra", "lora_unet.extra", GgmlType.F32, new long[] {4}, new byte[16]));
        Path bad = TinyFluxFiles.write(Variant.DEV_Q4_K, dir.resolve("bad"), list);
        assertThatThrownBy(() -> GgufTransformer.load(bad, F32))
                .isInstanceOfSatisfying(WeightBindingException.class, e -> {
                    assertThat(e.problems()).hasSize(4);
                    assertThat(e.problems(Kind.MISSING))
                            .extracting(WeightBindingException.Problem::name)
                            .containsExactly(
                                    "double_blocks.1.txt_attn.norm.key_norm.scale", "single_blocks.0.linear2.bias");
                    assertThat(e.problems(Kind.SHAPE))
                            .extracting(WeightBindingException.Problem::name)
                            .containsExactly("double_blocks.0.img_mlp.2.weight");
                    assertThat(e.problems(Kind.UNEXPECTED))
                            .extracting(WeightBindingException.Problem::name)
                            .containsExactly("lora_unet.extra");
                    assertThat(e.getMessage())
                            .contains(
                                    bad.toString(),
                                    "4 problems",
                                    "expected [256, 1024], found F32 [256, 512]",
                                    "double_blocks.1.txt_attn.norm.key_norm.scale: expected [128]");
                });

        // Lenient: the extra tensor alone is tolerated and listed.
        List<TinyFluxFiles.Tensor> extra = tensors(Variant.DEV_Q4_K);
        extra.add(new TinyFluxFiles.Tensor(
                "lora_unet.extra", "lora_unet.extra", GgmlType.F32, new long[] {4}, new byte[16]));
        Path withExtra = TinyFluxFiles.write(Variant.DEV_Q4_K, dir.resolve("extra"), extra);
        assertThatThrownBy(() -> GgufTransformer.load(withExtra, F32))
                .isInstanceOf(WeightBindingException.class)
                .hasMessageContaining("1 problem")
                .hasMessageContaining("lora_unet.extra");
        try (FluxTransformer m = GgufTransformer.load(withExtra, F32.withStrict(false))) {
            assertThat(m.leftovers())
                    .extracting(io.github.flux4j.core.weights.source.WeightInfo::name)
                    .containsExactly("lora_unet.extra");
        }
    }

    @Test
    void diffusersFolderProblemsNameTheDiffusersTensors() throws IOException {
        Path folder = dir.resolve("diff-missing");
        Files.createDirectories(folder);
        List<TinyFluxFiles.NamedArray> all =
                new ArrayList<>(TinyFluxFiles.diffusersWeights().values());
        all.removeIf(a -> a.name().equals("single_transformer_blocks.1.proj_mlp.bias"));
        Files.write(folder.resolve("diffusion_pytorch_model.safetensors"), TinyFluxFiles.safetensors(all));
        assertThatThrownBy(() -> FluxTransformer.load(folder, F32))
                .isInstanceOf(WeightBindingException.class)
                .hasMessageContaining("single_blocks.1.linear1.bias")
                .hasMessageContaining("absent: single_transformer_blocks.1.proj_mlp.bias");
    }

    @Test
    void wrongArchitectureIsRefusedAndMissingArchitectureAccepted() throws IOException {
        Path llama = dir.resolve("arch").resolve("tiny-flux-dev-F32.gguf");
        Files.createDirectories(llama.getParent());
        io.github.flux4j.gguf.GgufWriter w = io.github.flux4j.gguf.GgufWriter.create()
                .put("general.architecture", new io.github.flux4j.gguf.GgufValue.Str("sd3"));
        for (TinyFluxFiles.Tensor t : TinyFluxFiles.tensors(Variant.DEV_F32)) {
            w.addTensor(t.name(), t.type(), t.shape(), java.nio.ByteBuffer.wrap(t.data()));
        }
        w.write(llama);
        assertThatThrownBy(() -> GgufTransformer.load(llama, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(llama.toString())
                .hasMessageContaining("'sd3'")
                .hasMessageContaining("not a FLUX transformer");

        Path noArch = TinyFluxFiles.write(Variant.DEV_Q4_K_NOARCH, dir);
        try (FluxTransformer m = GgufTransformer.load(noArch, F32)) {
            assertThat(m.config().depth()).isEqualTo(2);
        }
    }

    @Test
    void truncatedFilesNameTheFile() throws IOException {
        Path cut = dir.resolve("cut").resolve("tiny-flux-dev-F32.gguf");
        Files.createDirectories(cut.getParent());
        Files.copy(gguf, cut);
        try (RandomAccessFile raf = new RandomAccessFile(cut.toFile(), "rw")) {
            raf.setLength(raf.length() - 1000);
        }
        assertThatThrownBy(() -> GgufTransformer.load(cut, F32))
                .isInstanceOf(GgufException.class)
                .hasMessageContaining(cut.toString());

        Path bfl = TinyFluxFiles.writeBflSafetensors(dir.resolve("cut-st"));
        try (RandomAccessFile raf = new RandomAccessFile(bfl.toFile(), "rw")) {
            raf.setLength(raf.length() - 1000);
        }
        assertThatThrownBy(() -> FluxTransformer.load(bfl, F32))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining(bfl.toString())
                .hasMessageContaining("truncated");
    }
}
