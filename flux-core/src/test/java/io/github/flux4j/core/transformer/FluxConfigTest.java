package io.github.flux4j.core.transformer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufValue;
import io.github.flux4j.gguf.GgufWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FluxConfigTest {
    @TempDir
    Path dir;

    private static FluxConfig tiny(boolean guidance) {
        return new FluxConfig(64, 96, 128, 256, 4.0, 2, 2, 2, List.of(16, 56, 56), 10_000, true, guidance);
    }

    @Test
    void presets() {
        FluxConfig dev = FluxConfig.dev();
        assertThat(dev.headDim()).isEqualTo(128);
        assertThat(dev.mlpHidden()).isEqualTo(12288);
        assertThat(dev.depth()).isEqualTo(19);
        assertThat(dev.depthSingleBlocks()).isEqualTo(38);
        assertThat(dev.guidanceEmbed()).isTrue();
        assertThat(dev.outChannels()).isEqualTo(64);
        assertThat(FluxConfig.schnell().guidanceEmbed()).isFalse();
        assertThat(FluxConfig.schnell()).isNotEqualTo(dev);
    }

    @Test
    void validates() {
        assertThatThrownBy(
                        () -> new FluxConfig(64, 96, 128, 256, 4.0, 3, 2, 2, List.of(16, 56, 56), 10_000, true, true))
                .hasMessageContaining("not divisible");
        assertThatThrownBy(
                        () -> new FluxConfig(64, 96, 128, 256, 4.0, 2, 2, 2, List.of(16, 56, 50), 10_000, true, true))
                .hasMessageContaining("axesDim");
        assertThatThrownBy(
                        () -> new FluxConfig(64, 96, 128, 256, 0.0, 2, 2, 2, List.of(16, 56, 56), 10_000, true, true))
                .hasMessageContaining("mlpRatio");
    }

    @Test
    void infersTinyModels() throws IOException {
        try (WeightSource s = WeightSource.open(TinyFluxFiles.write(Variant.DEV_Q4_K, dir))) {
            assertThat(FluxConfig.inferFrom(s)).isEqualTo(tiny(true));
        }
        try (WeightSource s = WeightSource.open(TinyFluxFiles.write(Variant.SCHNELL_Q8_0, dir))) {
            assertThat(FluxConfig.inferFrom(s)).isEqualTo(tiny(false));
        }
        try (WeightSource s = WeightSource.open(TinyFluxFiles.write(Variant.DEV_Q8_0_PREFIXED, dir))) {
            assertThat(FluxConfig.inferFrom(s)).isEqualTo(tiny(true));
        }
        try (WeightSource s = WeightSource.open(TinyFluxFiles.writeDiffusersFolder(dir))) {
            assertThat(FluxConfig.inferFrom(s)).isEqualTo(tiny(true));
        }
        try (WeightSource s = WeightSource.open(TinyFluxFiles.writeBflSafetensors(dir))) {
            assertThat(FluxConfig.inferFrom(s)).isEqualTo(tiny(true));
        }
    }

    @Test
    void depthIsTheHighestBlockIndexPlusOne() throws IOException {
        // Drop single block 1: the single depth becomes 1, the double depth stays 2.
        List<TinyFluxFiles.Tensor> tensors = TinyFluxFiles.tensors(Variant.DEV_F32).stream()
                .filter(t -> !t.canonical().startsWith("single_blocks.1."))
                .toList();
        try (WeightSource s = WeightSource.open(TinyFluxFiles.write(Variant.DEV_F32, dir, tensors))) {
            FluxConfig c = FluxConfig.inferFrom(s);
            assertThat(c.depth()).isEqualTo(2);
            assertThat(c.depthSingleBlocks()).isEqualTo(1);
        }
    }

    @Test
    void notAFluxModel() throws IOException {
        Path p = dir.resolve("llama.gguf");
        GgufWriter.create()
                .put("general.architecture", new GgufValue.Str("llama"))
                .addTensor("token_embd.weight", GgmlType.F32, new long[] {4, 8}, ByteBuffer.allocate(128))
                .write(p);
        try (WeightSource s = WeightSource.open(p)) {
            assertThatThrownBy(() -> FluxConfig.inferFrom(s))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining(p.toString())
                    .hasMessageContaining("not a FLUX transformer")
                    .hasMessageContaining("img_in.weight");
        }
    }

    /**
     * FLUX.1-dev's tensor table: 780 tensors and 11,901,408,320 parameters, the counts the
     * diffusers baseline (shared/peer-diffusers) checked against diffusers' own converter; schnell
     * lacks guidance_in's 4 tensors. The tiny table is what the reference GGUFs hold.
     */
    @Test
    void bflTensorShapesOfDevAndSchnell() throws IOException {
        java.util.Map<String, long[]> dev = FluxConfig.dev().bflTensorShapes();
        assertThat(dev).hasSize(780);
        assertThat(dev.values().stream()
                        .mapToLong(s -> java.util.Arrays.stream(s).reduce(1, (a, b) -> a * b))
                        .sum())
                .isEqualTo(11_901_408_320L);
        assertThat(dev.get("double_blocks.0.img_attn.qkv.weight")).containsExactly(9216, 3072);
        assertThat(dev.get("single_blocks.37.linear1.weight")).containsExactly(21504, 3072);
        assertThat(FluxConfig.schnell().bflTensorShapes())
                .hasSize(776)
                .doesNotContainKey("guidance_in.in_layer.weight");
        try (WeightSource w = WeightSource.gguf(TinyFluxFiles.write(Variant.DEV_F32, dir))) {
            assertThat(FluxConfig.inferFrom(w).bflTensorShapes().keySet())
                    .containsExactlyInAnyOrderElementsOf(
                            w.tensors().stream().map(t -> t.name()).toList());
        }
    }
}
