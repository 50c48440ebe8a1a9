package io.github.flux4j.core.vae;

import java.awt.image.BufferedImage;
import java.util.Arrays;

/**
 * An 8-bit RGB image: {@code height} rows of {@code width} pixels, each three bytes R, G, B (the
 * layout of numpy's {@code HxWx3 uint8} array and of a PIL RGB image's bytes). Usable without a
 * display; {@link #toBufferedImage()} converts for {@code javax.imageio}.
 */
public final class RgbImage {
    private final int width;
    private final int height;
    private final byte[] rgb;

    /**
     * Wraps a copy of {@code rgb}.
     *
     * @throws IllegalArgumentException if the sizes are not positive or {@code rgb.length != 3 * width * height}
     */
    public RgbImage(int width, int height, byte[] rgb) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if ((long) width * height * 3 != rgb.length) {
            throw new IllegalArgumentException(
                    width + "x" + height + " RGB needs " + (long) width * height * 3 + " bytes, got " + rgb.length);
        }
        this.width = width;
        this.height = height;
        this.rgb = rgb.clone();
    }

    /** Width in pixels. */
    public int width() {
        return width;
    }

    /** Height in pixels. */
    public int height() {
        return height;
    }

    /** The pixels, row-major, R G B per pixel (a copy). */
    public byte[] rgb() {
        return rgb.clone();
    }

    /** Channel {@code c} (0 R, 1 G, 2 B) of pixel ({@code x}, {@code y}), 0..255. */
    public int channel(int x, int y, int c) {
        if (x < 0 || x >= width || y < 0 || y >= height || c < 0 || c > 2) {
            throw new IndexOutOfBoundsException(
                    "(" + x + ", " + y + ", " + c + ") outside " + width + "x" + height + "x3");
        }
        return rgb[(y * width + x) * 3 + c] & 0xFF;
    }

    /** The pixel as {@code 0xRRGGBB}. */
    public int rgbAt(int x, int y) {
        return channel(x, y, 0) << 16 | channel(x, y, 1) << 8 | channel(x, y, 2);
    }

    /** A new {@link BufferedImage#TYPE_INT_RGB} image with these pixels (works headless). */
    public BufferedImage toBufferedImage() {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[width];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int i = (y * width + x) * 3;
                row[x] = (rgb[i] & 0xFF) << 16 | (rgb[i + 1] & 0xFF) << 8 | (rgb[i + 2] & 0xFF);
            }
            img.setRGB(0, y, width, 1, row, 0, width);
        }
        return img;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RgbImage r && width == r.width && height == r.height && Arrays.equals(rgb, r.rgb);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * width + height) + Arrays.hashCode(rgb);
    }

    @Override
    public String toString() {
        return "RgbImage[" + width + "x" + height + "]";
    }
}
