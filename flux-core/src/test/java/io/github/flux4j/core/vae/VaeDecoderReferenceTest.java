package io.github.flux4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.torch.StageTimings;
import io.github.flux4j.core.torch.TensorTrace;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder against diffusers' {@code AutoencoderKL} + FluxPipeline's decode tail on the tiny
 * VAE ({@code reference/vae/README.md}). Errors are relative: ‖ours − ref‖₂ / ‖ref‖₂. Cases:
 * "square" (latent 8x8 → 64x64), "wide" (6x10 → 48x80: a height/width swap cannot pass) and
 * "tiled" (9x11 → 72x88 through {@code tiled_decode}, 4x4-latent tiles).
 */
class VaeDecoderReferenceTest {
    /**
     * float32 vs diffusers' float32 decode, same weights: only the summation order of the float32
     * convolutions differs (LibTorch 2.10's oneDNN vs torch 2.13's, multi- vs single-threaded), about
     * 1e-7 per layer over ~30 layers. Observed 1.3e-6 to 1.5e-6. A wrong eps, a missing affine, a
     * swapped up block or a skipped residual moves the output by 1e-3 or (much) more.
     */
    static final double F32_TOL = 1e-5;
    /** float32 intermediates, a few layers deep (observed 1e-7 to 4e-7). */
    static final double F32_STAGE_TOL = 2e-6;
    /**
     * bf16 vs diffusers' bf16 decode. Observed: bit-identical on the machine that made the
     * references (same ATen CPU kernels), tiles and postprocessing included; 9.6e-3 to 1.05e-2 on the
     * GPU host's CPU, whose bf16 convolution kernels round elsewhere. A bf16 decode is a bf16
     * approximation of the float32 one (diffusers' own: 1.7e-2 to 1.9e-2 from it), and two
     * such approximations by different kernels are up to √2 times that apart. So bf16 is only
     * checked to be a bf16 decode of the right model, against both references; the float32 tests
     * are the ones that catch mistakes in structure or arithmetic.
     */
    static final double BF16_TOL = 3e-2;
    /**
     * uint8 images from float32 decodes: {@code round(v * 255)} flips by one where the decodes'
     * 1e-6 difference straddles a rounding boundary (observed: one channel value of 12288 in the
     * square case, none in the wide one). Never more than one step.
     */
    static final int F32_IMAGE_LSB = 1;
    /** At most this fraction of the channel values of an f32 image may be one step off. */
    static final double F32_IMAGE_FLIPS = 1e-3;
    /**
     * bf16 images: identical where the kernels match, up to 10 steps apart on the GPU host's CPU
     * (diffusers' own bf16 and f32 images are up to 12 apart).
     */
    static final int BF16_IMAGE_LSB = 16;

    private static VaeReference ref;
    private static VaeDecoder f32;
    private static VaeDecoder bf16;

    @BeforeAll
    static void load() throws IOException {
        ref = VaeReference.open();
        f32 = VaeDecoder.load(VaeReference.folder(), LoadOptions.defaults().withDtype(ComputeDtype.F32));
        bf16 = VaeDecoder.load(VaeReference.folder(), LoadOptions.defaults());
    }

    @AfterAll
    static void close() throws IOException {
        f32.close();
        bf16.close();
        ref.close();
    }

    @Test
    void unscaleIsThePipelinesDivideAndAdd() {
        try (PointerScope scope = new PointerScope()) {
            for (String c : List.of("square", "wide", "tiled")) {
                // The same two float32 ATen ops on the same inputs: bit-identical.
                Tensor z = f32.unscale(ref.get("input." + c));
                assertThat(TextRefs.maxAbsError(z, ref.get("f32." + c + ".z")))
                        .as(c)
                        .isZero();
            }
        }
    }

    @Test
    void float32IntermediatesMatchDiffusers() {
        try (PointerScope scope = new PointerScope()) {
            Decoder d = f32.decoder;
            Tensor z = f32.unscale(ref.get("input.square"));
            Tensor convIn = d.convIn.forward(z);
            Tensor res0 = d.midBlock.resnets0.forward(convIn);
            Tensor attn = d.midBlock.attentions0.forward(res0);
            Tensor mid = d.midBlock.forward(convIn);
            Tensor up0 = d.upBlocks.get(0).forward(mid);
            assertThat(TextRefs.relError(convIn, ref.get("f32.square.conv_in")))
                    .as("conv_in")
                    .isLessThan(F32_STAGE_TOL);
            assertThat(TextRefs.relError(res0, ref.get("f32.square.mid_block.resnets.0")))
                    .as("resnets.0")
                    .isLessThan(F32_STAGE_TOL);
            assertThat(TextRefs.relError(attn, ref.get("f32.square.mid_block.attentions.0")))
                    .as("attentions.0")
                    .isLessThan(F32_STAGE_TOL);
            assertThat(TextRefs.relError(mid, ref.get("f32.square.mid_block")))
                    .as("mid_block")
                    .isLessThan(F32_STAGE_TOL);
            assertThat(TextRefs.relError(up0, ref.get("f32.square.up_blocks.0")))
                    .as("up_blocks.0")
                    .isLessThan(F32_STAGE_TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"square", "wide", "tiled"})
    void float32DecodeMatchesDiffusers(String c) {
        try (PointerScope scope = new PointerScope()) {
            Tensor decoded = f32.decodeLatents(ref.get("input." + c), c.equals("tiled"));
            assertThat(Torch.dtype(decoded)).isEqualTo(ScalarType.Float);
            double rel = TextRefs.relError(decoded, ref.get("f32." + c + ".decoded"));
            RgbImage image = VaeImageProcessor.postprocess(decoded).get(0);
            RgbImage expected = ref.image("f32." + c + ".image");
            int[] diffs = VaeReference.pixelDiffs(image, expected);
            System.out.printf(
                    "VAE cpu f32 %s: rel %.3e, image max diff %d, values differing %d%n", c, rel, diffs[0], diffs[1]);
            assertThat(rel).isLessThan(F32_TOL);

            assertThat(diffs[0]).as("max channel difference").isLessThanOrEqualTo(F32_IMAGE_LSB);
            assertThat(diffs[1]).as("channel values off by one").isLessThanOrEqualTo((int)
                    (F32_IMAGE_FLIPS * 3 * image.width() * image.height()));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"square", "wide", "tiled"})
    void bf16DecodeMatchesDiffusers(String c) {
        try (PointerScope scope = new PointerScope()) {
            Tensor decoded = bf16.decodeLatents(ref.get("input." + c), c.equals("tiled"));
            assertThat(Torch.dtype(decoded)).isEqualTo(ScalarType.BFloat16);
            double rel = TextRefs.relError(decoded, ref.get("bf16." + c + ".decoded"));
            RgbImage image = bf16.decodeToImages(ref.get("input." + c), c.equals("tiled"))
                    .get(0);
            int[] diffs = VaeReference.pixelDiffs(image, ref.image("bf16." + c + ".image"));
            double relF32 = TextRefs.relError(decoded, ref.get("f32." + c + ".decoded"));
            System.out.printf(
                    "VAE cpu bf16 %s: rel %.3e (vs f32 %.3e), image max diff %d, values differing %d%n",
                    c, rel, relF32, diffs[0], diffs[1]);
            assertThat(rel).isLessThan(BF16_TOL);
            assertThat(relF32).isLessThan(BF16_TOL);
            assertThat(diffs[0]).isLessThanOrEqualTo(BF16_IMAGE_LSB);
        }
    }

    @Test
    void tilingChangesTheResultAsInDiffusers() {
        try (PointerScope scope = new PointerScope()) {
            // 4x4-latent tiles are far from seamless, so an untiled decode cannot meet the tiled
            // reference: float32DecodeMatchesDiffusers("tiled") does test the tiling.
            Tensor whole = f32.decodeLatents(ref.get("input.tiled"), false);
            assertThat(TextRefs.relError(whole, ref.get("f32.tiled.decoded"))).isGreaterThan(0.1);
            // Latents within one tile are decoded whole, as diffusers does.
            Tensor z = f32.unscale(ref.get("input.square").narrow(2, 0, 4).narrow(3, 0, 4));
            assertThat(torch.equal(f32.decodeTiled(z), f32.decode(z))).isTrue();
        }
    }

    @Test
    void tilesWithoutOverlapAreLaidSideBySide() {
        try (PointerScope scope = new PointerScope()) {
            Tensor z = bf16.unscale(ref.get("input.wide")); // 6x10 latent: 2x3 tiles of 4x4
            Tensor tiled = bf16.decodeTiled(z, 32, 0.0);
            assertThat(tiled.shape()).containsExactly(1, 3, 48, 80);
            Tensor tile = bf16.decode(z.narrow(2, 4, 2).narrow(3, 4, 4));
            assertThat(TextRefs.maxAbsError(tiled.narrow(2, 32, 16).narrow(3, 32, 32), tile))
                    .isZero();
        }
    }

    @Test
    void batchesDecodeEachEntryAlone() {
        try (PointerScope scope = new PointerScope()) {
            Tensor a = ref.get("input.square");
            Tensor b = a.flip(3);
            Tensor both = f32.decodeLatents(torch.cat(new org.bytedeco.pytorch.TensorVector(a, b), 0), false);
            assertThat(both.shape()).containsExactly(2, 3, 64, 64);
            // GroupNorm and attention are per sample, so only the summation order of the batched
            // float32 kernels differs (observed 1.8e-6); mixing samples would be off by O(1).
            assertThat(TextRefs.relError(both.narrow(0, 0, 1), f32.decodeLatents(a, false)))
                    .isLessThan(F32_TOL);
            assertThat(TextRefs.relError(both.narrow(0, 1, 1), f32.decodeLatents(b, false)))
                    .isLessThan(F32_TOL);
            assertThat(VaeImageProcessor.postprocess(both)).hasSize(2);
        }
    }

    @Test
    void bflNamedFileDecodesLikeTheDiffusersFolder() throws IOException {
        VaeConfig config = readTinyConfig();
        try (VaeDecoder bfl = VaeDecoder.load(
                        VaeReference.bflFile(), config, LoadOptions.defaults().withDtype(ComputeDtype.F32));
                PointerScope scope = new PointerScope()) {
            assertThat(bfl.leftovers()).isEmpty();
            assertThat(bfl.sourceBytes()).isEqualTo(f32.sourceBytes());
            Tensor lat = ref.get("input.wide");
            // Both files hold the same (bf16-exact) values: the same model, bit for bit.
            assertThat(torch.equal(bfl.decodeLatents(lat, false), f32.decodeLatents(lat, false)))
                    .isTrue();
        }
    }

    @Test
    void decodingFreesItsTemporaries() {
        try (PointerScope warm = new PointerScope()) {
            bf16.decodeToImages(ref.get("input.square"), true);
        }
        long before = NativeMemory.livePointers();
        for (int i = 0; i < 2; i++) {
            try (PointerScope scope = new PointerScope()) {
                Tensor lat = ref.get("input.square");
                bf16.decodeLatents(lat, false);
                bf16.decodeToImages(lat, true);
            }
        }
        // Every wrapper made by a decode belongs to a scope; a few may be in flight in JavaCPP's
        // deallocator bookkeeping. A leak would be hundreds per decode.
        assertThat(NativeMemory.livePointers() - before).isLessThan(10);
    }

    static VaeConfig readTinyConfig() throws IOException {
        Map<String, Object> json = new com.fasterxml.jackson.databind.ObjectMapper()
                .readValue(
                        VaeReference.folder().resolve("config.json").toFile(),
                        new com.fasterxml.jackson.core.type.TypeReference<Map<String, Object>>() {});
        return VaeConfig.fromJson(json, "tiny config.json");
    }

    @Test
    void traceGivesEachDecoderStageAsDiffusersHooksDo() {
        Map<String, Double> errors = new java.util.LinkedHashMap<>();
        List<String> names = new java.util.ArrayList<>();
        StageTimings timings = new StageTimings();
        try (PointerScope scope = new PointerScope()) {
            Tensor z = f32.unscale(ref.get("input.square"));
            Map<String, String> refs = Map.of(
                    "decoder.conv_in",
                    "f32.square.conv_in",
                    "decoder.mid_block",
                    "f32.square.mid_block",
                    "decoder.up_blocks.0",
                    "f32.square.up_blocks.0");
            TensorTrace trace = (name, t) -> {
                names.add(name);
                timings.record(name, t);
                if (refs.containsKey(name)) {
                    errors.put(name, TextRefs.relError(t, ref.get(refs.get(name))));
                }
            };
            Tensor image = f32.decode(z, trace);
            // the same numbers as the untraced decode (the trace only looks)
            assertThat(torch.equal(image, f32.decode(z))).isTrue();
        }
        int levels = f32.config().levels();
        List<String> expected = new java.util.ArrayList<>(List.of("decoder.conv_in", "decoder.mid_block"));
        for (int i = 0; i < levels; i++) {
            expected.add("decoder.up_blocks." + i);
        }
        expected.addAll(List.of("decoder.conv_norm_out", "decoder.conv_act", "decoder.conv_out"));
        if (f32.config().usePostQuantConv()) {
            expected.add(0, "post_quant_conv");
        }
        assertThat(names).containsExactlyElementsOf(expected);
        assertThat(errors).hasSize(3);
        errors.forEach((name, err) -> assertThat(err).as(name).isLessThan(F32_STAGE_TOL));
        assertThat(timings.durations().keySet()).containsExactlyElementsOf(expected);
    }
}
