package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.vae.RgbImage;
import io.github.flux4j.pipeline.Refs.Values;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tiny pipeline in float32 against diffusers' FluxPipeline on the same folder and GGUF files
 * (tools/reference/pipeline_refs.py): every stage, and the end-to-end image for the same seed.
 */
class FluxPipelineReferenceTest {
    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("a", "Q8_0"),
                Arguments.of("a", "Q4_K"),
                Arguments.of("b", "Q8_0"),
                Arguments.of("b", "Q4_K"),
                Arguments.of("c", "Q8_0"));
    }

    @ParameterizedTest(name = "case {0}, {1}")
    @MethodSource("cases")
    void matchesDiffusersStageByStage(String name, String qtype) throws IOException {
        JsonNode call = TinyPipeline.call(name);
        List<String> prompts = TinyPipeline.prompts(call);
        Map<String, Values> text = Refs.read(TinyPipeline.REFS.resolve(name + ".text.safetensors"));
        Map<String, Values> ref = Refs.read(TinyPipeline.REFS.resolve(name + "." + qtype + ".safetensors"));
        Refs.Recorder trace = new Refs.Recorder();
        GenerationResult result;
        try (FluxPipeline flux = TinyPipeline.builder(TinyPipeline.variant(qtype), ComputeDtype.F32)
                .build()) {
            result = flux.generate(
                    prompts, TinyPipeline.options(call).trace(trace).build());
        }
        int steps = call.get("num_inference_steps").asInt();
        int batch = prompts.size() * call.get("num_images_per_prompt").asInt();

        // Tokenization and the text ids: exact.
        for (String key : List.of("clip_input_ids", "t5_input_ids", "text_ids")) {
            assertThat(trace.get(key).shape())
                    .as(key)
                    .containsExactly(text.get(key).shape());
            assertThat(trace.get(key).data())
                    .as(key)
                    .containsExactly(text.get(key).data());
        }
        // Text encoders (CLIP pooled, T5 states, repeated per image): float32 summation order only.
        for (String key : List.of("pooled_prompt_embeds", "prompt_embeds")) {
            assertThat(trace.get(key).shape())
                    .as(key)
                    .containsExactly(text.get(key).shape());
            assertThat(Refs.relativeError(trace.get(key).data(), text.get(key).data()))
                    .as(key)
                    .isLessThan(1e-5);
        }
        // Noise, ids, guidance, the transformer's timesteps: exact.
        for (String key : List.of("latents.initial", "img_ids", "guidance")) {
            assertThat(trace.get(key).shape())
                    .as(key)
                    .containsExactly(ref.get(key).shape());
            assertThat(trace.get(key).data())
                    .as(key)
                    .containsExactly(ref.get(key).data());
        }
        float[] timesteps = ref.get("transformer_timesteps").data();
        for (int i = 0; i < steps; i++) {
            float[] t = trace.get("timestep." + i).data();
            assertThat(t).as("timestep " + i).hasSize(batch);
            for (float v : t) {
                assertThat(v).as("timestep " + i).isEqualTo(timesteps[i * batch]);
            }
        }
        // The latents after each step.
        for (int i = 0; i < steps; i++) {
            String key = "latents.step" + i;
            double rel = Refs.relativeError(trace.get(key).data(), ref.get(key).data());
            assertThat(rel).as(key).isLessThan(1e-4);
        }
        // The decoded image: PSNR in [0, 1] and of the 8-bit images.
        Values decoded = trace.get("image.decoded");
        assertThat(decoded.shape()).containsExactly(ref.get("image.decoded").shape());
        double psnr = Refs.psnrDecoded(decoded.data(), ref.get("image.decoded").data());
        Values ref8 = ref.get("image.uint8");
        int h = (int) ref8.shape()[1];
        int w = (int) ref8.shape()[2];
        byte[] ours8 = new byte[ref8.size()];
        assertThat(result.images()).hasSize(batch);
        for (int b = 0; b < batch; b++) {
            RgbImage img = result.image(b);
            assertThat(img.width()).isEqualTo(w);
            assertThat(img.height()).isEqualTo(h);
            System.arraycopy(img.rgb(), 0, ours8, b * h * w * 3, h * w * 3);
        }
        double psnr8 = Refs.psnr8(ours8, ref8.data());
        int off = 0;
        int maxOff = 0;
        for (int i = 0; i < ours8.length; i++) {
            int d = (int) Math.abs((ours8[i] & 0xFF) - ref8.data()[i]);
            off += d == 0 ? 0 : 1;
            maxOff = Math.max(maxOff, d);
        }
        System.out.printf(
                "case %s %s: pooled rel %.1e, T5 rel %.1e, latents rel %.2e (last step), decoded PSNR %.1f dB,"
                        + " max |diff| %.2e; uint8 PSNR %.1f dB (%d of %d values differ, by at most %d)%n",
                name,
                qtype,
                Refs.relativeError(
                        trace.get("pooled_prompt_embeds").data(),
                        text.get("pooled_prompt_embeds").data()),
                Refs.relativeError(
                        trace.get("prompt_embeds").data(),
                        text.get("prompt_embeds").data()),
                Refs.relativeError(
                        trace.get("latents.step" + (steps - 1)).data(),
                        ref.get("latents.step" + (steps - 1)).data()),
                psnr,
                Refs.maxAbs(decoded.data(), ref.get("image.decoded").data()),
                psnr8,
                off,
                ours8.length,
                maxOff);
        assertThat(psnr).as("decoded image PSNR (dB)").isGreaterThan(40);
        assertThat(psnr8).as("8-bit image PSNR (dB)").isGreaterThan(40);
        // float32 differences of ~1e-5 can only flip a rounding: one step, on a handful of values
        assertThat(maxOff).as("largest 8-bit difference").isLessThanOrEqualTo(1);

        assertThat(result.width()).isEqualTo(w);
        assertThat(result.height()).isEqualTo(h);
        assertThat(result.steps()).isEqualTo(steps);
        assertThat(result.timings().steps()).hasSize(steps);
        assertThat(result.seed().firstSeed()).isEqualTo(call.get("seed").asLong());
    }

    /**
     * bfloat16, FLUX's usual dtype, against diffusers' bfloat16 run (noise drawn like torch 2.13:
     * {@link io.github.flux4j.pipeline.latents.NoiseDraw#FLOAT32_ROUNDED}, the default). Not bit for
     * bit: LibTorch 2.10's CPU kernels round some bf16 operations differently from torch 2.13's
     * (docs/transformer.md), and this random tiny model amplifies every difference (its own
     * bf16-vs-f32 gap is 17-22 dB PSNR), so the bound is loose.
     */
    @ParameterizedTest(name = "case {0}, Q8_0, bf16")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"a", "b"})
    void bfloat16MatchesDiffusersBfloat16(String name) throws IOException {
        JsonNode call = TinyPipeline.call(name);
        Map<String, Values> ref = Refs.read(TinyPipeline.REFS.resolve(name + ".Q8_0-bf16.safetensors"));
        Map<String, Values> f32 = Refs.read(TinyPipeline.REFS.resolve(name + ".Q8_0.safetensors"));
        Refs.Recorder trace = new Refs.Recorder();
        GenerationResult r;
        try (FluxPipeline flux = TinyPipeline.builder(TinyPipeline.variant("Q8_0"), ComputeDtype.BF16)
                .build()) {
            r = flux.generate(
                    TinyPipeline.prompts(call),
                    TinyPipeline.options(call).trace(trace).build());
        }
        double psnr = Refs.psnrDecoded(
                trace.get("image.decoded").data(), ref.get("image.decoded").data());
        double psnr8 = Refs.psnr8(r.image().rgb(), ref.get("image.uint8").data());
        double vsF32 = Refs.psnrDecoded(
                trace.get("image.decoded").data(), f32.get("image.decoded").data());
        System.out.printf(
                "case %s Q8_0 bf16: decoded PSNR %.1f dB, uint8 PSNR %.1f dB vs diffusers bf16"
                        + " (%.1f dB vs diffusers f32)%n",
                name, psnr, psnr8, vsF32);
        assertThat(psnr).as("bf16 decoded image PSNR (dB)").isGreaterThan(35);
    }
}
