package io.github.flux4j.pipeline.latents;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sizes FluxPipeline derives from a requested image size. The VAE shrinks each side by
 * {@code vaeScaleFactor} (8 for FLUX) and the transformer packs 2x2 latent pixels into one token,
 * so the usable pixel size is a multiple of {@code 2 * vaeScaleFactor} = 16. diffusers rounds
 * <em>down</em> ({@code latent side = 2 * (px // 16)}) and only warns, so a 680x500 request gives
 * an 84x62 latent, 42x31 = 1302 tokens and a 672x496 image.
 *
 * @param requestedHeight the height asked for, in pixels
 * @param requestedWidth  the width asked for, in pixels
 * @param vaeScaleFactor  the VAE's downsampling factor, {@code 2^(len(block_out_channels) - 1)}
 */
public record LatentGeometry(int requestedHeight, int requestedWidth, int vaeScaleFactor) {
    /** FLUX's VAE scale factor (four VAE blocks, three downsamplings). */
    public static final int FLUX_VAE_SCALE_FACTOR = 8;
    /** FluxPipeline's default height and width: {@code default_sample_size (128) * 8}. */
    public static final int DEFAULT_SIZE = 1024;

    private static final Logger LOG = LoggerFactory.getLogger(LatentGeometry.class);

    /**
     * Validates the sizes.
     *
     * @throws IllegalArgumentException if {@code vaeScaleFactor < 1}, or a side is smaller than
     *                                  {@code 2 * vaeScaleFactor} pixels (no latent pixel would remain)
     */
    public LatentGeometry {
        if (vaeScaleFactor < 1) {
            throw new IllegalArgumentException("vaeScaleFactor must be positive, got " + vaeScaleFactor);
        }
        int multiple = 2 * vaeScaleFactor;
        if (requestedHeight < multiple || requestedWidth < multiple) {
            throw new IllegalArgumentException("height and width must be at least " + multiple + " pixels, got "
                    + requestedHeight + "x" + requestedWidth + " (height x width)");
        }
        // Token counts are ints here (and in LibTorch's shapes); nothing else limits the size.
        if ((long) (requestedHeight / multiple) * (requestedWidth / multiple) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "image of " + requestedHeight + "x" + requestedWidth + " pixels has too many tokens");
        }
    }

    /**
     * The geometry of a FLUX image of {@code height x width} pixels, logging a warning (as
     * diffusers' {@code check_inputs} does) when a side is not a multiple of 16 and will be
     * rounded down.
     *
     * @throws IllegalArgumentException if a side is smaller than 16 pixels
     */
    public static LatentGeometry of(int height, int width) {
        return of(height, width, FLUX_VAE_SCALE_FACTOR);
    }

    /**
     * The geometry for a VAE with the given scale factor, warning about rounding like
     * {@link #of(int, int)}.
     *
     * @throws IllegalArgumentException as the constructor
     */
    public static LatentGeometry of(int height, int width, int vaeScaleFactor) {
        LatentGeometry g = new LatentGeometry(height, width, vaeScaleFactor);
        if (g.isRounded()) {
            LOG.warn(
                    "`height` and `width` have to be divisible by {} but are {} and {}. Dimensions will be "
                            + "resized accordingly: the image will be {}x{} (height x width)",
                    g.multiple(),
                    height,
                    width,
                    g.imageHeight(),
                    g.imageWidth());
        }
        return g;
    }

    /** The pixel multiple the sides are rounded down to: {@code 2 * vaeScaleFactor}. */
    public int multiple() {
        return 2 * vaeScaleFactor;
    }

    /** Whether the requested size is not a multiple of {@link #multiple()} and gets rounded down. */
    public boolean isRounded() {
        return requestedHeight % multiple() != 0 || requestedWidth % multiple() != 0;
    }

    /** Latent height: {@code 2 * (height // (2 * vaeScaleFactor))}. */
    public int latentHeight() {
        return 2 * (requestedHeight / multiple());
    }

    /** Latent width: {@code 2 * (width // (2 * vaeScaleFactor))}. */
    public int latentWidth() {
        return 2 * (requestedWidth / multiple());
    }

    /** Rows of packed tokens: {@code latentHeight / 2}. */
    public int packedHeight() {
        return latentHeight() / 2;
    }

    /** Columns of packed tokens: {@code latentWidth / 2}. */
    public int packedWidth() {
        return latentWidth() / 2;
    }

    /** Packed image tokens ({@code image_seq_len}, which {@code calculate_shift} takes). */
    public int imageSeqLen() {
        return packedHeight() * packedWidth();
    }

    /** Height of the decoded image in pixels: {@code latentHeight * vaeScaleFactor}. */
    public int imageHeight() {
        return latentHeight() * vaeScaleFactor;
    }

    /** Width of the decoded image in pixels: {@code latentWidth * vaeScaleFactor}. */
    public int imageWidth() {
        return latentWidth() * vaeScaleFactor;
    }

    /** The shape of the unpacked latents / noise: {@code [batch, channels, latentHeight, latentWidth]}. */
    public long[] latentShape(long batch, long channels) {
        return new long[] {batch, channels, latentHeight(), latentWidth()};
    }

    /** The shape of the packed latents: {@code [batch, imageSeqLen, channels * 4]}. */
    public long[] packedShape(long batch, long channels) {
        return new long[] {batch, imageSeqLen(), channels * 4};
    }
}
