package io.github.flux4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.weights.source.WeightException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VaeConfigTest {

    @Test
    void fluxPresetIsFluxDevsVaeConfig() {
        VaeConfig c = VaeConfig.flux();
        assertThat(c.latentChannels()).isEqualTo(16);
        assertThat(c.blockOutChannels()).containsExactly(128, 256, 512, 512);
        assertThat(c.layersPerBlock()).isEqualTo(2);
        assertThat(c.normNumGroups()).isEqualTo(32);
        assertThat(c.scalingFactor()).isEqualTo(0.3611);
        assertThat(c.shiftFactor()).isEqualTo(0.1159);
        assertThat(c.usePostQuantConv()).isFalse();
        assertThat(c.midBlockAddAttention()).isTrue();
        assertThat(c.upscale()).isEqualTo(8);
        assertThat(c.midChannels()).isEqualTo(512);
        assertThat(c.tileLatentSize()).isEqualTo(128);
    }

    @Test
    void fluxDevsConfigJsonReadsAsThePreset() {
        // black-forest-labs/FLUX.1-dev vae/config.json, the fields that matter
        Map<String, Object> json = new HashMap<>(Map.of(
                "_class_name",
                "AutoencoderKL",
                "act_fn",
                "silu",
                "block_out_channels",
                List.of(128, 256, 512, 512),
                "in_channels",
                3,
                "latent_channels",
                16,
                "layers_per_block",
                2,
                "norm_num_groups",
                32,
                "out_channels",
                3,
                "sample_size",
                1024,
                "scaling_factor",
                0.3611));
        json.putAll(Map.of(
                "shift_factor",
                0.1159,
                "use_post_quant_conv",
                false,
                "use_quant_conv",
                false,
                "force_upcast",
                true,
                "up_block_types",
                List.of("UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D")));
        assertThat(VaeConfig.fromJson(json, "config.json")).isEqualTo(VaeConfig.flux());
    }

    @Test
    void absentFieldsTakeDiffusersDefaults() {
        Map<String, Object> json = new HashMap<>(
                Map.of("block_out_channels", List.of(64), "latent_channels", 4, "scaling_factor", 0.18215));
        json.put("shift_factor", null); // SD VAEs write null
        json.put("sample_size", List.of(512, 768));
        VaeConfig c = VaeConfig.fromJson(json, "sd.json");
        assertThat(c.shiftFactor()).isZero();
        assertThat(c.layersPerBlock()).isEqualTo(1);
        assertThat(c.normNumGroups()).isEqualTo(32);
        assertThat(c.usePostQuantConv()).isTrue();
        assertThat(c.sampleSize()).isEqualTo(512);
        assertThat(c.upscale()).isEqualTo(1);
    }

    @Test
    void theConstructorValidates() {
        assertThatThrownBy(() -> new VaeConfig(3, 3, 16, List.of(), 2, 32, 0.3611, 0.1159, false, true, 1024))
                .hasMessageContaining("block_out_channels must not be empty");
        assertThatThrownBy(() -> new VaeConfig(3, 3, 16, List.of(128), 2, 32, Double.NaN, 0.1159, false, true, 1024))
                .hasMessageContaining("scaling_factor");
        assertThatThrownBy(() -> new VaeConfig(3, 3, 0, List.of(128), 2, 32, 1, 0, false, true, 1024))
                .hasMessageContaining("latent_channels must be positive");
        assertThatThrownBy(() -> VaeConfig.fromJson(
                        Map.of(
                                "block_out_channels",
                                List.of(64),
                                "latent_channels",
                                4,
                                "scaling_factor",
                                1,
                                "up_block_types",
                                List.of("UpDecoderBlock2D", "UpDecoderBlock2D")),
                        "x.json"))
                .isInstanceOf(WeightException.class)
                .hasMessage(
                        "x.json: not a usable AutoencoderKL config: up_block_types has 2 entries but block_out_channels 1");
    }
}
