package io.github.flux4j.core.weights.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.testing.TextRefs.StTensor;
import io.github.flux4j.gguf.GgmlType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TransformersWeightSource} and {@link RenamedWeightSource} on the tiny text-encoder checkpoints. */
class TransformersWeightSourceTest {
    static final Path T5 = TextRefs.resource("t5");
    static final Path CLIP = TextRefs.resource("clip");

    @Test
    void shardedFolderListsEveryTensorOnceWithConfig() throws IOException {
        try (TransformersWeightSource s = TransformersWeightSource.open(T5)) {
            assertThat(s.format()).isEqualTo(WeightFormat.TRANSFORMERS);
            assertThat(s.architecture()).isEmpty();
            assertThat(s.config()).containsEntry("d_model", 64).containsEntry("feed_forward_proj", "gated-gelu");
            assertThat(s.tensors()).hasSize(21);
            WeightInfo q = s.tensor("encoder.block.1.layer.0.SelfAttention.q.weight");
            assertThat(q.type()).isEqualTo(GgmlType.BF16);
            assertThat(q.shape()).containsExactly(64, 64);
            assertThat(q.origin())
                    .matches(
                            "encoder\\.block\\.1\\.layer\\.0\\.SelfAttention\\.q\\.weight in model-0000\\d-of-00003\\.safetensors");
            ByteBuffer b = s.read(q);
            assertThat(b.remaining()).isEqualTo(64 * 64 * 2);
            assertThat(s.read(q, 128, 128).remaining()).isEqualTo(128);
        }
    }

    @Test
    void singleFileAndSingleFileFolder(@TempDir Path dir) throws IOException {
        try (TransformersWeightSource s = TransformersWeightSource.open(CLIP.resolve("model.safetensors"))) {
            assertThat(s.config()).isEmpty(); // a lone file: its folder's config.json is not read
            assertThat(s.tensors()).hasSize(36);
        }
        try (TransformersWeightSource s = TransformersWeightSource.open(CLIP)) {
            assertThat(s.config()).containsEntry("hidden_size", 64);
        }
        assertThatThrownBy(() -> TransformersWeightSource.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("neither model.safetensors.index.json nor model.safetensors");
        assertThatThrownBy(() -> TransformersWeightSource.open(dir.resolve("absent")))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(NoSuchFileException.class);
    }

    @Test
    void indexProblemsAreNamed(@TempDir Path dir) throws IOException {
        Files.writeString(
                dir.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"a.weight\": \"model-1.safetensors\"}}");
        assertThatThrownBy(() -> TransformersWeightSource.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("names shard model-1.safetensors, which is missing");
        Map<String, StTensor> one = new LinkedHashMap<>();
        one.put("b.weight", new StTensor("F32", new long[] {1}, new byte[4]));
        TextRefs.writeSafetensors(dir.resolve("model-1.safetensors"), one);
        assertThatThrownBy(() -> TransformersWeightSource.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("puts a.weight in model-1.safetensors, which has no such tensor");
        Files.writeString(
                dir.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"b.weight\": \"../x.safetensors\"}}");
        assertThatThrownBy(() -> TransformersWeightSource.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("points outside the folder");
        Files.writeString(
                dir.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"b.weight\": \"model-1.safetensors\"}}");
        Files.writeString(dir.resolve("config.json"), "[1, 2]");
        assertThatThrownBy(() -> TransformersWeightSource.open(dir))
                .isInstanceOf(WeightException.class)
                .hasMessageContaining("config.json is not a JSON object");
    }

    @Test
    void renamingMapsHidesAndReadsThrough() throws IOException {
        try (RenamedWeightSource s = RenamedWeightSource.of(
                TransformersWeightSource.open(T5),
                n -> n.startsWith("encoder.block.1.") ? null : n.replace("encoder.", "enc."))) {
            assertThat(s.tensors()).hasSize(12);
            assertThat(s.hidden()).hasSize(9).allMatch(t -> t.name().startsWith("encoder.block.1."));
            WeightInfo q = s.tensor("enc.block.0.layer.0.SelfAttention.q.weight");
            assertThat(q.origin()).startsWith("encoder.block.0.layer.0.SelfAttention.q.weight in ");
            assertThat(s.find("encoder.block.0.layer.0.SelfAttention.q.weight")).isEmpty();
            assertThat(s.read(q).remaining()).isEqualTo(64 * 64 * 2);
            assertThat(s.config()).containsEntry("num_layers", 2);
            WeightInfo foreign = s.underlying().tensor("shared.weight");
            assertThatThrownBy(() -> s.read(new WeightInfo("x", GgmlType.BF16, "BF16", new long[] {1}, 2, "nowhere")))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("does not belong");
            assertThat(s.read(s.tensor(foreign.name())).remaining()).isEqualTo(foreign.byteSize());
        }
    }

    @Test
    void twoNamesMappedToOneAreRefused() throws IOException {
        try (TransformersWeightSource t5 = TransformersWeightSource.open(T5)) {
            assertThatThrownBy(() -> RenamedWeightSource.of(t5, n -> n.endsWith("layer_norm.weight") ? "norm" : n))
                    .isInstanceOf(WeightException.class)
                    .hasMessageContaining("would both be read as norm");
            assertThat(List.of(t5.tensors().size())).containsExactly(21);
        }
    }
}
