package io.github.flux4j.pipeline;

import io.github.flux4j.core.vae.RgbImage;
import io.github.flux4j.pipeline.latents.NoiseSeed;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What one {@link FluxPipeline#generate} call produced: the images (8-bit RGB, what diffusers
 * returns as PIL images), and how they were made.
 *
 * @param images       prompts times images per prompt, the images of one prompt next to each other
 *                     (prompt {@code p}, image {@code i} at {@code p * numImagesPerPrompt + i})
 * @param prompts      the prompts, in order
 * @param seed         the noise seed(s) used: reuse it to get the same images again
 * @param width        the images' width in pixels (the request rounded down to a multiple of 16)
 * @param height       the images' height in pixels
 * @param steps        the number of denoising steps run
 * @param guidanceScale the guidance scale fed to the transformer, or NaN if the model has no
 *                     guidance embedding (schnell)
 * @param warnings     what was logged as a warning for this call (prompt truncation, size
 *                     rounding, an ignored guidance scale), in order
 * @param timings      per-stage wall-clock times
 */
public record GenerationResult(
        List<RgbImage> images,
        List<String> prompts,
        NoiseSeed seed,
        int width,
        int height,
        int steps,
        double guidanceScale,
        List<String> warnings,
        Timings timings) {
    /** Copies the lists. */
    public GenerationResult {
        images = List.copyOf(images);
        prompts = List.copyOf(prompts);
        Objects.requireNonNull(seed, "seed");
        warnings = List.copyOf(warnings);
        Objects.requireNonNull(timings, "timings");
    }

    /** The first image (the only one for one prompt and one image per prompt). */
    public RgbImage image() {
        return images.get(0);
    }

    /**
     * Image {@code index}.
     *
     * @throws IndexOutOfBoundsException if there is no such image
     */
    public RgbImage image(int index) {
        return images.get(index);
    }

    /** Image {@code index} as a {@link BufferedImage#TYPE_INT_RGB} image. */
    public BufferedImage bufferedImage(int index) {
        return images.get(index).toBufferedImage();
    }

    /**
     * Writes image {@code index} to {@code file}, PNG or JPEG after the file's extension, atomically
     * ({@link ImageFiles#save(RgbImage, Path)}).
     *
     * @throws io.github.flux4j.FluxIoException if the file cannot be written (the cause a
     *                                          {@link java.nio.file.NoSuchFileException} if the folder does not exist)
     */
    public Path save(int index, Path file) {
        return ImageFiles.save(images.get(index), file);
    }
}
