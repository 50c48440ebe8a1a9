package io.github.flux4j.pipeline.latents;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.pipeline.testing.RefData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * Against tools/reference/latents_refs.py: FluxPipeline.prepare_latents with real CPU generators,
 * _pack_latents, _unpack_latents and _prepare_latent_image_ids, byte for byte, as run under
 * PyTorch 2.13 (float32-rounded reduced-precision noise) and 2.11 (the old in-dtype kernel).
 */
@SuppressWarnings("try") // PointerScopes are opened for their side effect
class FluxLatentsTest {
    private static final Path DIR = RefData.ROOT.resolve("latents");

    @Test
    void matchesDiffusersUnderTorch213WithTheDefaultDraw() throws IOException {
        check("torch-2.13", NoiseDraw.FLOAT32_ROUNDED);
        assertThat(NoiseDraw.defaultDraw()).isEqualTo(NoiseDraw.FLOAT32_ROUNDED);
    }

    @Test
    void matchesDiffusersUnderTorch211WithTheInDtypeDraw() throws IOException {
        check("torch-2.11", NoiseDraw.IN_DTYPE);
    }

    private static void check(String version, NoiseDraw draw) throws IOException {
        Path dir = DIR.resolve(version);
        JsonNode cases = RefData.json(dir.resolve("cases.json")).get("cases");
        List<String> failures = new ArrayList<>();
        Device cpu = new Device(DeviceType.CPU);
        try (SafetensorsFile stored = SafetensorsFile.open(dir.resolve("latents.safetensors"))) {
            for (JsonNode c : cases) {
                try (PointerScope scope = new PointerScope()) {
                    String name = c.get("name").asText();
                    LatentGeometry g = LatentGeometry.of(
                            c.get("height").asInt(), c.get("width").asInt());
                    int batch = c.get("batch").asInt();
                    ScalarType dtype = dtype(c.get("dtype").asText());
                    NoiseSeed seed = (c.get("seed").isNull()
                                    ? NoiseSeed.perImage(seeds(c.get("seeds")))
                                    : NoiseSeed.of(seedOf(c.get("seed"))))
                            .withDraw(draw);
                    JsonNode t = c.get("tensors");
                    if (g.latentHeight() != c.get("latent_height").asInt()
                            || g.latentWidth() != c.get("latent_width").asInt()
                            || g.imageSeqLen() != c.get("image_seq_len").asInt()) {
                        failures.add(name + ": geometry " + g);
                    }
                    Tensor noise = FluxLatents.noise(g, batch, FluxLatents.FLUX_LATENT_CHANNELS, dtype, seed);
                    PreparedLatents p = FluxLatents.prepare(g, batch, dtype, cpu, seed);
                    expect(failures, name, "noise", noise, t);
                    expect(failures, name, "latents", p.latents(), t);
                    expect(failures, name, "image_ids", p.imageIds(), t);
                    expect(failures, name, "unpacked", FluxLatents.unpack(p.latents(), g), t);
                    expect(failures, name, "text_ids", FluxLatents.textIds(512, dtype, cpu), t);
                    if (c.get("stored").asBoolean()) {
                        for (String k : new String[] {"noise", "latents"}) {
                            Tensor ref = RefData.tensor(stored, name + "." + k);
                            Tensor mine = k.equals("noise") ? noise : p.latents();
                            if (!java.util.Arrays.equals(RefData.bytes(mine), RefData.bytes(ref))) {
                                failures.add(name + "." + k + ": stored tensor differs");
                            }
                        }
                    }
                }
            }
        }
        assertThat(cases.size()).isEqualTo(13);
        assertThat(failures).as(version).isEmpty();
    }

    private static void expect(List<String> failures, String name, String key, Tensor actual, JsonNode tensors) {
        JsonNode ref = tensors.get(key);
        long[] shape = new long[ref.get("shape").size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = ref.get("shape").get(i).asLong();
        }
        if (!java.util.Arrays.equals(RefData.shape(actual), shape)) {
            failures.add(name + "." + key + ": shape " + java.util.Arrays.toString(RefData.shape(actual)) + " vs "
                    + java.util.Arrays.toString(shape));
        } else if (!RefData.sha256(actual).equals(ref.get("sha256").asText())) {
            float[] first = RefData.floats(actual);
            failures.add(name + "." + key + ": sha256 differs; first values " + first[0] + ", " + first[1] + " vs "
                    + ref.get("first"));
        }
    }

    private static ScalarType dtype(String name) {
        return switch (name) {
            case "bf16" -> ScalarType.BFloat16;
            case "f16" -> ScalarType.Half;
            case "f32" -> ScalarType.Float;
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** Python ints up to 2**64 - 1, as two's complement longs (what manual_seed does with them). */
    private static long seedOf(JsonNode n) {
        return n.bigIntegerValue().longValue();
    }

    private static long[] seeds(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = seedOf(array.get(i));
        }
        return out;
    }

    @Test
    void specTestVectorsOfTheTorch211Draw() {
        // flux-diffusers-spec.md §1.3 [V] (torch 2.11 on device): seed 42, (1,16,128,128) bf16.
        try (PointerScope scope = new PointerScope()) {
            Tensor n = FluxLatents.noise(
                    LatentGeometry.of(1024, 1024),
                    1,
                    16,
                    ScalarType.BFloat16,
                    NoiseSeed.of(42).withDraw(NoiseDraw.IN_DTYPE));
            float[] v = RefData.floats(n);
            assertThat(java.util.Arrays.copyOf(v, 8))
                    .containsExactly(
                            -0.80859375f,
                            -1.53125f,
                            0.40625f,
                            0.171875f,
                            -0.2470703125f,
                            0.2041015625f,
                            -0.87890625f,
                            -0.38671875f);
            double sum = 0;
            for (float f : v) {
                sum += f;
            }
            assertThat(sum).isEqualTo(133.73892498016357);
        }
    }

    @Test
    void packPutsTwoByTwoPatchesChannelMajorIntoTokens() {
        // The spec's formula: token r*(W/2)+c, feature ch*4 + dy*2 + dx = lat[ch, 2r+dy, 2c+dx].
        try (PointerScope scope = new PointerScope()) {
            Tensor lat = torch.arange(
                            new org.bytedeco.pytorch.Scalar(0),
                            new org.bytedeco.pytorch.Scalar(2 * 4 * 6),
                            new TensorOptions(ScalarType.Float))
                    .view(1, 2, 4, 6)
                    .contiguous();
            float[] packed = RefData.floats(FluxLatents.pack(lat));
            assertThat(RefData.shape(FluxLatents.pack(lat))).containsExactly(1, 6, 8);
            int ch = 1;
            int r = 1;
            int c = 2;
            int dy = 1;
            int dx = 0;
            float expected = ch * 24 + (2 * r + dy) * 6 + (2 * c + dx);
            assertThat(packed[(r * 3 + c) * 8 + ch * 4 + dy * 2 + dx]).isEqualTo(expected);
        }
    }

    @Test
    void preparesGivenLatentsAsIs() {
        try (PointerScope scope = new PointerScope()) {
            LatentGeometry g = LatentGeometry.of(64, 96);
            Tensor given = torch.ones(new long[] {2, 24, 64}, new TensorOptions(ScalarType.Float));
            PreparedLatents p = FluxLatents.prepareFrom(g, given, ScalarType.BFloat16, new Device(DeviceType.CPU));
            assertThat(RefData.shape(p.latents())).containsExactly(2, 24, 64);
            assertThat(p.latents().scalar_type().intern()).isEqualTo(ScalarType.BFloat16);
            assertThat(RefData.shape(p.imageIds())).containsExactly(24, 3);
            Tensor wrong = torch.ones(new long[] {2, 25, 64}, new TensorOptions(ScalarType.Float));
            assertThatThrownBy(() -> FluxLatents.prepareFrom(g, wrong, ScalarType.Float, new Device(DeviceType.CPU)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[B, 24, 64]");
        }
    }

    @Test
    void refusesBadArguments() {
        try (PointerScope scope = new PointerScope()) {
            LatentGeometry g = LatentGeometry.of(64, 64);
            Device cpu = new Device(DeviceType.CPU);
            assertThatThrownBy(() -> FluxLatents.prepare(g, 3, ScalarType.BFloat16, cpu, NoiseSeed.perImage(1, 2)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("2 seeds")
                    .hasMessageContaining("batch size of 3");
            assertThatThrownBy(() -> FluxLatents.prepare(g, 0, ScalarType.BFloat16, cpu, NoiseSeed.of(1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("batch");
            assertThatThrownBy(() -> FluxLatents.prepare(g, 1, ScalarType.Long, cpu, NoiseSeed.of(1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("floating point");
            assertThatThrownBy(() -> new NoiseSeed(new long[] {1, 2}, false, NoiseDraw.IN_DTYPE))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("perImage");
            assertThatThrownBy(() -> NoiseSeed.perImage()).isInstanceOf(IllegalArgumentException.class);
            Tensor odd = torch.zeros(new long[] {1, 16, 3, 4}, new TensorOptions(ScalarType.Float));
            assertThatThrownBy(() -> FluxLatents.pack(odd))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("even H and W");
            Tensor packed = torch.zeros(new long[] {1, 15, 64}, new TensorOptions(ScalarType.Float));
            assertThatThrownBy(() -> FluxLatents.unpack(packed, g))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[B, 16, 4C]");
            assertThatThrownBy(() -> FluxLatents.textIds(0, ScalarType.Float, cpu))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void preparedLatentsCloseSafelyInsideAScope() {
        try (PointerScope scope = new PointerScope()) {
            PreparedLatents p = FluxLatents.prepare(
                    LatentGeometry.of(32, 32), 1, ScalarType.Float, new Device(DeviceType.CPU), NoiseSeed.of(3));
            p.close();
            assertThat(p.latents().isNull()).isTrue();
            p.close(); // idempotent
        } // the scope closing afterwards must not crash
        PreparedLatents owned = FluxLatents.prepare(
                LatentGeometry.of(32, 32), 1, ScalarType.Float, new Device(DeviceType.CPU), NoiseSeed.of(3));
        owned.close();
        assertThat(owned.imageIds().isNull()).isTrue();
    }
}
