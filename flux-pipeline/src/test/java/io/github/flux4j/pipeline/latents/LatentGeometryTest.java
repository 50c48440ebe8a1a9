package io.github.flux4j.pipeline.latents;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The sizes of flux-diffusers-spec.md §1.1 (diffusers' prepare_latents and _unpack_latents). */
class LatentGeometryTest {
    @Test
    void square1024() {
        LatentGeometry g = LatentGeometry.of(1024, 1024);
        assertThat(g.isRounded()).isFalse();
        assertThat(g.latentShape(1, 16)).containsExactly(1, 16, 128, 128);
        assertThat(g.packedShape(1, 16)).containsExactly(1, 4096, 64);
        assertThat(g.imageSeqLen()).isEqualTo(4096);
        assertThat(g.imageHeight()).isEqualTo(1024);
        assertThat(g.imageWidth()).isEqualTo(1024);
    }

    @Test
    void roundsDownToMultiplesOf16() {
        // spec table: height 680, width 496 -> noise (1,16,84,62), 1302 tokens (42*31), image 672x496.
        LatentGeometry g = LatentGeometry.of(680, 496);
        assertThat(g.isRounded()).isTrue();
        assertThat(g.latentShape(1, 16)).containsExactly(1, 16, 84, 62);
        assertThat(g.packedHeight()).isEqualTo(42);
        assertThat(g.packedWidth()).isEqualTo(31);
        assertThat(g.imageSeqLen()).isEqualTo(1302);
        assertThat(g.imageHeight()).isEqualTo(672);
        assertThat(g.imageWidth()).isEqualTo(496);
        assertThat(g.multiple()).isEqualTo(16);
    }

    @Test
    void refusesSidesBelowOneToken() {
        assertThatThrownBy(() -> LatentGeometry.of(15, 1024))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 16 pixels")
                .hasMessageContaining("15x1024");
        assertThatThrownBy(() -> new LatentGeometry(64, 64, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("vaeScaleFactor");
        assertThat(LatentGeometry.of(16, 31).imageSeqLen()).isEqualTo(1);
    }
}
