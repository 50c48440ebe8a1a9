package io.github.flux4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class VaeImageProcessorTest {

    @Test
    void postprocessRoundsLikeNumpy() {
        try (PointerScope scope = new PointerScope()) {
            // [1, 3, 1, 4]; expected values from numpy: (np.float32(x) * 0.5 + 0.5).clip(0, 1) * 255, np.round, uint8
            float[] x = {
                -1f,
                1f,
                0f,
                -3f, // R: 0, 255, 127.5 -> 128 (the only tie; half to even), clamped 0
                2f,
                0.1f,
                -0.1f,
                0.0039f, // G: clamped 255, 140.25 -> 140, 114.75 -> 115, 127.997 -> 128
                -0.99f,
                0.99f,
                0.5f,
                -0.5f // B: 1.275 -> 1, 253.725 -> 254, 191.25 -> 191, 63.75 -> 64
            };
            Tensor t = Tensor.create(x, 1, 3, 1, 4);
            List<RgbImage> images = VaeImageProcessor.postprocess(t);
            assertThat(images).hasSize(1);
            RgbImage img = images.get(0);
            assertThat(img.width()).isEqualTo(4);
            assertThat(img.height()).isEqualTo(1);
            int[][] expected = {{0, 255, 1}, {255, 140, 254}, {128, 115, 191}, {0, 128, 64}}; // [pixel][channel]
            for (int px = 0; px < 4; px++) {
                for (int c = 0; c < 3; c++) {
                    assertThat(img.channel(px, 0, c))
                            .as("pixel %d channel %d", px, c)
                            .isEqualTo(expected[px][c]);
                }
            }
        }
    }

    @Test
    void bf16IsDenormalizedInBf16() {
        try (PointerScope scope = new PointerScope()) {
            // bf16(0.99) = 0.98828125; * 0.5 = 0.494140625 (exact); + 0.5 = 0.994140625 is a bf16 tie
            // between 0.9921875 and 0.99609375 and rounds to the even 0.9921875 -> 253.01 -> 253.
            // Denormalizing in float32 would give 0.994140625 * 255 = 253.5 -> 254.
            Tensor t =
                    Tensor.create(new float[] {0.99f, 0.99f, 0.99f}, 1, 3, 1, 1).to(ScalarType.BFloat16);
            Tensor d = VaeImageProcessor.denormalize(t);
            assertThat(io.github.flux4j.core.torch.Torch.dtype(d)).isEqualTo(ScalarType.BFloat16);
            assertThat(d.select(1, 0).item_float()).isEqualTo(0.9921875f);
            assertThat(VaeImageProcessor.postprocess(t).get(0).channel(0, 0, 0)).isEqualTo(253);
        }
    }

    @Test
    void postprocessNeedsThreeChannels() {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensor.create(new float[4], 1, 1, 2, 2);
            assertThatThrownBy(() -> VaeImageProcessor.postprocess(t))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[B, 3, H, W]");
        }
    }

    @Test
    void rgbImageConvertsToBufferedImage() {
        byte[] rgb = {(byte) 255, 0, 0, 0, (byte) 128, 0, 0, 0, (byte) 200, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        RgbImage img = new RgbImage(3, 2, rgb);
        BufferedImage b = img.toBufferedImage();
        assertThat(b.getWidth()).isEqualTo(3);
        assertThat(b.getHeight()).isEqualTo(2);
        assertThat(b.getRGB(0, 0) & 0xFFFFFF).isEqualTo(0xFF0000);
        assertThat(b.getRGB(1, 0) & 0xFFFFFF).isEqualTo(0x008000);
        assertThat(b.getRGB(2, 0) & 0xFFFFFF).isEqualTo(0x0000C8);
        assertThat(b.getRGB(2, 1) & 0xFFFFFF).isEqualTo(0x070809);
        assertThat(img.rgbAt(0, 1)).isEqualTo(0x010203);
        rgb[0] = 0;
        assertThat(img.channel(0, 0, 0)).as("defensive copy").isEqualTo(255);
        assertThat(img).isEqualTo(new RgbImage(3, 2, img.rgb()));
        assertThatThrownBy(() -> new RgbImage(2, 2, rgb)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> img.channel(3, 0, 0)).isInstanceOf(IndexOutOfBoundsException.class);
    }
}
