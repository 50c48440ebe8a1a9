package io.github.flux4j.core.text;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.weights.source.TransformersWeightSource;
import io.github.flux4j.core.weights.source.WeightSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/** Opens the files a text encoder is published as. */
public final class TextEncoderWeights {
    private TextEncoderWeights() {}

    /**
     * Opens a text encoder's weights: a GGUF file (names as stored), a single safetensors file,
     * a transformers model folder, or a diffusers pipeline folder whose {@code subfolder}
     * ({@code text_encoder}, {@code text_encoder_2}) is such a model folder.
     *
     * @param path      the file or folder
     * @param subfolder the pipeline sub-folder to look in when {@code path} is a folder without a
     *                  checkpoint of its own
     * @throws FluxIoException if a file cannot be read; its cause is a {@link NoSuchFileException}
     *                         if {@code path} does not exist
     */
    public static WeightSource open(Path path, String subfolder) {
        if (Files.isDirectory(path)) {
            boolean own = Files.isRegularFile(path.resolve(TransformersWeightSource.INDEX))
                    || Files.isRegularFile(path.resolve(TransformersWeightSource.SINGLE));
            if (!own && Files.isDirectory(path.resolve(subfolder))) {
                return TransformersWeightSource.open(path.resolve(subfolder));
            }
            return TransformersWeightSource.open(path);
        }
        try {
            if (!Files.isRegularFile(path)) {
                throw new NoSuchFileException(path.toString());
            }
            return isGguf(path) ? WeightSource.gguf(path) : TransformersWeightSource.open(path);
        } catch (IOException e) {
            throw FluxIoException.of(path, e);
        }
    }

    /** The GGUF magic, or a {@code .gguf} name (so an empty or truncated one is reported as invalid GGUF). */
    private static boolean isGguf(Path file) throws IOException {
        Path name = file.getFileName();
        if (name != null && name.toString().toLowerCase(Locale.ROOT).endsWith(".gguf")) {
            return true;
        }
        byte[] magic = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(magic, 0, 4);
        }
        return n == 4 && "GGUF".equals(new String(magic, StandardCharsets.US_ASCII));
    }
}
