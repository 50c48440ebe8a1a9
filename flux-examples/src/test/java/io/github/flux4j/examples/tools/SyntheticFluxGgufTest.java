package io.github.flux4j.examples.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.examples.tools.SyntheticFluxGguf.Kind;
import io.github.flux4j.examples.tools.SyntheticFluxGguf.Options;
import io.github.flux4j.examples.tools.SyntheticFluxGguf.Spec;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.gguf.TensorInfo;
import io.github.flux4j.gguf.quant.Dequantizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SyntheticFluxGgufTest {
    @TempDir
    Path dir;

    @Test
    void devHasFluxOneDevsTensors() {
        List<Spec> specs = SyntheticFluxGguf.tensors(FluxConfig.dev());
        assertThat(specs).hasSize(780);
        assertThat(specs.stream().filter(s -> s.kind() == Kind.BLOCK_MATRIX)).hasSize(304);
        assertThat(specs.stream().filter(s -> s.kind() == Kind.EMBEDDER)).hasSize(10);
        assertThat(specs.stream().mapToLong(Spec::elements).sum()).isEqualTo(11_901_408_320L);
        assertThat(specs.stream()
                        .filter(s -> s.name().equals("single_blocks.37.linear1.weight"))
                        .findFirst()
                        .orElseThrow()
                        .shape())
                .containsExactly(21504, 3072);
        assertThat(specs.stream().anyMatch(s -> s.name().equals("guidance_in.out_layer.bias")))
                .isTrue();
        assertThat(SyntheticFluxGguf.tensors(FluxConfig.schnell()).stream()
                        .noneMatch(s -> s.name().startsWith("guidance_in.")))
                .isTrue();
    }

    @Test
    void outputDoesNotDependOnThreads() throws IOException {
        Path a = dir.resolve("a.gguf");
        Path b = dir.resolve("b.gguf");
        SyntheticFluxGguf.write(a, SyntheticFluxGguf.tiny(), new Options(GgmlType.Q4_K, GgmlType.F16, 7, 1, false));
        SyntheticFluxGguf.write(b, SyntheticFluxGguf.tiny(), new Options(GgmlType.Q4_K, GgmlType.F16, 7, 3, false));
        assertThat(Files.mismatch(a, b)).isEqualTo(-1L);
        Path c = dir.resolve("c.gguf");
        SyntheticFluxGguf.write(c, SyntheticFluxGguf.tiny(), new Options(GgmlType.Q4_K, GgmlType.F16, 8, 1, false));
        assertThat(Files.mismatch(a, c)).isNotEqualTo(-1L);
    }

    @ParameterizedTest
    @EnumSource(
            value = GgmlType.class,
            names = {"F32", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void weightsHaveSaneStatistics(GgmlType type) throws IOException {
        Path f = dir.resolve("tiny-" + type + ".gguf");
        SyntheticFluxGguf.Summary s = SyntheticFluxGguf.write(f, SyntheticFluxGguf.tiny(), Options.of(type));
        assertThat(s.tensors()).isEqualTo(84);
        try (GgufFile g = GgufFile.open(f)) {
            assertThat(g.metadata().getString("general.architecture")).isEqualTo("flux");
            TensorInfo w = g.tensor("double_blocks.1.img_mlp.0.weight");
            assertThat(w.type()).isEqualTo(type);
            float[] x = Dequantizer.dequantize(w.type(), g.tensorData(w), w.name(), w.elementCount());
            double sum = 0;
            double sq = 0;
            for (float v : x) {
                assertThat(Float.isFinite(v)).isTrue();
                sum += v;
                sq += (double) v * v;
            }
            double mean = sum / x.length;
            double std = Math.sqrt(sq / x.length - mean * mean);
            assertThat(mean).isCloseTo(0, within(1e-3));
            assertThat(std).isCloseTo(0.02, within(0.002));
            TensorInfo emb = g.tensor("txt_in.weight");
            assertThat(emb.type()).isEqualTo(type == GgmlType.F32 || type == GgmlType.BF16 ? type : GgmlType.F16);
            TensorInfo scale = g.tensor("single_blocks.0.norm.key_norm.scale");
            assertThat(scale.type()).isEqualTo(GgmlType.F32);
            float[] one = Dequantizer.dequantize(scale.type(), g.tensorData(scale), scale.name(), scale.elementCount());
            assertThat(one).containsOnly(1f);
        }
    }
}
