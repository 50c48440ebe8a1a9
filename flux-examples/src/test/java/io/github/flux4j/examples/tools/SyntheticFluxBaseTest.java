package io.github.flux4j.examples.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.testing.ForwardingWeightSource;
import io.github.flux4j.core.text.TextEncoderWeights;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.vae.VaeDecoder;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.examples.tools.SyntheticFluxBase.Spec;
import io.github.flux4j.examples.tools.SyntheticFluxBase.Tensor;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.pipeline.GenerationOptions;
import io.github.flux4j.pipeline.GenerationResult;
import io.github.flux4j.pipeline.model.FluxModelFolder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The synthetic base folder: the small spec loads strictly and runs the whole pipeline; the full
 * FLUX.1-dev spec has the published sizes and its tables bind strictly in the loaders (checked on
 * a layout-only folder of sparse files, without reading 10 GB).
 */
class SyntheticFluxBaseTest {
    @TempDir
    Path dir;

    private static final LoadOptions CPU_BF16 =
            new LoadOptions(FluxDevice.cpu(), ComputeDtype.BF16, DequantArithmetic.EXACT_FLOAT32, true);

    @Test
    void theFullSizeTablesHaveFluxDevsPublishedSizes() {
        Spec dev = Spec.fluxDev();
        // text_encoder_2/model.safetensors.index.json of black-forest-labs/FLUX.1-dev: "total_size": 9524621312
        assertThat(bytes(SyntheticFluxBase.t5Tensors(dev.t5()))).isEqualTo(9_524_621_312L);
        // CLIP-L's text model: 123,060,480 parameters (openai/clip-vit-large-patch14)
        assertThat(bytes(SyntheticFluxBase.clipTensors(dev.clip()))).isEqualTo(2 * 123_060_480L);
        // FLUX.1's AutoencoderKL: 83,819,683 parameters (diffusers' num_parameters())
        assertThat(bytes(SyntheticFluxBase.vaeTensors(dev.vae()))).isEqualTo(2 * 83_819_683L);
        // two shards, as published: model-00001-of-00002 (4.99 GB) and -00002 (4.53 GB)
        List<List<Tensor>> shards = SyntheticFluxBase.shard(SyntheticFluxBase.t5Tensors(dev.t5()), dev.t5ShardBytes());
        assertThat(shards).hasSize(2);
        assertThat(bytes(shards.get(0))).isLessThanOrEqualTo(5_000_000_000L).isGreaterThan(4_900_000_000L);
    }

    @Test
    void theFullWidthLayoutBindsStrictlyInTheLoaders() throws IOException {
        // FLUX.1-dev's widths and every tensor shape, with 2 CLIP layers and 2 T5 blocks (the other
        // layers repeat the same shapes; the sizes of the full table are checked above)
        Path base = dir.resolve("flux-dev-layout");
        SyntheticFluxBase.write(base, Spec.fluxDev().withLayers(2, 2), 0, 2, false);
        FluxModelFolder folder = FluxModelFolder.open(base); // every config, index and tokenizer file parses
        assertThat(folder.weightFiles(io.github.flux4j.pipeline.model.FluxComponent.TEXT_ENCODER_2))
                .hasSize(1);
        // The loaders check every name and shape before reading any byte: a source that refuses to
        // read proves the check passed without loading 9.5 GB.
        try (WeightSource clip = TextEncoderWeights.open(base.resolve("text_encoder"), "text_encoder")) {
            assertThatThrownBy(() -> ClipTextModel.load(new NoReads(clip), CPU_BF16))
                    .isInstanceOf(CheckPassed.class);
        }
        try (WeightSource t5 = TextEncoderWeights.open(base.resolve("text_encoder_2"), "text_encoder_2")) {
            assertThatThrownBy(() -> T5EncoderModel.load(new NoReads(t5), CPU_BF16))
                    .isInstanceOf(CheckPassed.class);
        }
        // The VAE (168 MB, read as the sparse file's zeros) loads for real, strictly.
        try (VaeDecoder vae =
                VaeDecoder.load(base.resolve("vae"), LoadOptions.defaults().withDtype(ComputeDtype.BF16))) {
            assertThat(vae.config().latentChannels()).isEqualTo(16);
            assertThat(vae.config().scalingFactor()).isEqualTo(0.3611);
            assertThat(vae.config().shiftFactor()).isEqualTo(0.1159);
            assertThat(vae.memoryBytes()).isEqualTo(2 * (83_819_683L - encoderParameters()));
        }
        JsonNode t5 = new ObjectMapper()
                .readTree(base.resolve("text_encoder_2/config.json").toFile());
        assertThat(t5.get("d_model").asInt()).isEqualTo(4096);
        assertThat(t5.get("num_layers").asInt()).isEqualTo(2);
        assertThat(t5.get("num_heads").asInt()).isEqualTo(64);
        assertThat(t5.get("d_ff").asInt()).isEqualTo(10240);
        assertThat(t5.get("vocab_size").asInt()).isEqualTo(32128);
        JsonNode index = new ObjectMapper()
                .readTree(base.resolve("text_encoder_2/model.safetensors.index.json")
                        .toFile());
        long t5Bytes = bytes(
                SyntheticFluxBase.t5Tensors(Spec.fluxDev().withLayers(2, 2).t5()));
        assertThat(index.get("metadata").get("total_size").asLong()).isEqualTo(t5Bytes);
        assertThat(Files.size(base.resolve("text_encoder_2/model-00001-of-00001.safetensors")))
                .isGreaterThan(t5Bytes);
    }

    private static long encoderParameters() {
        long n = 0;
        for (Tensor t : SyntheticFluxBase.vaeTensors(Spec.fluxDev().vae())) {
            if (t.name().startsWith("encoder.")) {
                n += t.numel();
            }
        }
        return n;
    }

    @Test
    void theSmallSpecRunsThePipelineStrictlyAndIsDeterministic() throws IOException {
        Path base = dir.resolve("tiny-base");
        SyntheticFluxBase.Summary s = SyntheticFluxBase.write(base, Spec.tiny(), 0, 2);
        assertThat(s.files()).isEqualTo(4); // CLIP, VAE, two T5 shards
        assertThat(Files.list(dir).map(p -> p.getFileName().toString())).containsExactly("tiny-base"); // no leftovers
        Path gguf = dir.resolve("tiny-Q8_0.gguf");
        SyntheticFluxGguf.write(gguf, SyntheticFluxGguf.tiny(), SyntheticFluxGguf.Options.of(GgmlType.Q8_0));
        GenerationOptions options = GenerationOptions.builder()
                .size(64, 64)
                .steps(2)
                .maxSequenceLength(16)
                .seed(3)
                .build();
        try (FluxPipeline p = FluxPipeline.builder()
                .transformer(gguf)
                .baseModel(base)
                .device(FluxDevice.cpu())
                .computeDtype(ComputeDtype.F32)
                .build()) {
            GenerationResult r = p.generate("a synthetic fox", options);
            assertThat(r.images()).hasSize(1);
            assertThat(r.warnings()).isEmpty();
        }
        // the same files for the same seed, whatever the thread count; another seed changes the weights
        Path again = dir.resolve("again");
        SyntheticFluxBase.write(again, Spec.tiny(), 0, 1);
        Path other = dir.resolve("other");
        SyntheticFluxBase.write(other, Spec.tiny(), 1, 2);
        for (String f : List.of(
                "text_encoder/model.safetensors",
                "text_encoder_2/model-00002-of-00002.safetensors",
                "vae/diffusion_pytorch_model.safetensors",
                "text_encoder_2/model.safetensors.index.json")) {
            assertThat(sha(again.resolve(f))).as(f).isEqualTo(sha(base.resolve(f)));
        }
        assertThat(sha(other.resolve("vae/diffusion_pytorch_model.safetensors")))
                .isNotEqualTo(sha(base.resolve("vae/diffusion_pytorch_model.safetensors")));
    }

    @Test
    void badTargetsAreRejectedAndLeaveNothing() throws IOException {
        Path exists = Files.createDirectory(dir.resolve("exists"));
        assertThatThrownBy(() -> SyntheticFluxBase.write(exists, Spec.tiny(), 0, 1))
                .hasMessageContaining("exists already");
        assertThatThrownBy(() -> SyntheticFluxBase.write(dir.resolve("no/such/parent"), Spec.tiny(), 0, 1))
                .hasMessageContaining("no such folder");
        assertThatThrownBy(() -> SyntheticFluxBase.write(dir.resolve("x"), Spec.tiny(), 0, 0))
                .hasMessageContaining("threads");
        assertThatThrownBy(() -> Spec.tiny().withLayers(0, 1)).hasMessageContaining("layers must be >= 1");
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString())).containsExactly("exists");
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertThat(SyntheticFluxBase.bf16(1.0f)).isEqualTo((short) 0x3F80);
        assertThat(SyntheticFluxBase.bf16(Float.intBitsToFloat(0x3F808000))).isEqualTo((short) 0x3F80); // tie, even
        assertThat(SyntheticFluxBase.bf16(Float.intBitsToFloat(0x3F818000)))
                .isEqualTo((short) 0x3F82); // tie, up to even
        assertThat(SyntheticFluxBase.bf16(Float.intBitsToFloat(0x3F808001))).isEqualTo((short) 0x3F81);
    }

    private static long bytes(List<Tensor> ts) {
        return ts.stream().mapToLong(Tensor::bytes).sum();
    }

    private static String sha(Path p) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Thrown instead of reading: the binder's check passed and loading began. */
    static final class CheckPassed extends RuntimeException {
        CheckPassed() {
            super("the check passed; loading began");
        }
    }

    /** A source that lists its tensors but never reads them. */
    static final class NoReads extends ForwardingWeightSource {
        NoReads(WeightSource inner) {
            super(inner);
        }

        @Override
        public ByteBuffer read(WeightInfo tensor) {
            throw new CheckPassed();
        }

        @Override
        public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
            throw new CheckPassed();
        }

        @Override
        public void close() {}
    }
}
