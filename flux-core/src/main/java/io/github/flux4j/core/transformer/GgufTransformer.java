package io.github.flux4j.core.transformer;

import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightSource;
import java.nio.file.Path;

/**
 * Loads a FLUX transformer from a GGUF file (city96 / stable-diffusion.cpp conversions, any mix
 * of F32, F16, BF16 and the supported GGML block types). Quantized linears keep their blocks on
 * the device and dequantize on each forward.
 *
 * <pre>{@code
 * try (FluxTransformer model = GgufTransformer.load(Path.of("flux1-dev-Q4_K_S.gguf"))) { ... }
 * }</pre>
 *
 * <p>A file whose {@code general.architecture} is present and not {@code flux} is refused; a file
 * without the key (stable-diffusion.cpp writes none) is accepted and judged by its tensors.
 */
public final class GgufTransformer {
    private GgufTransformer() {}

    /** Loads with {@link LoadOptions#defaults()} (CPU, BF16, strict). */
    public static FluxTransformer load(Path file) {
        return load(file, LoadOptions.defaults());
    }

    /**
     * Loads, the configuration inferred from the tensors, and closes the file.
     *
     * @throws WeightException if the file is not a FLUX transformer or its tensors do not fit
     *                         (see {@link FluxTransformer#load(WeightSource, LoadOptions)})
     * @throws io.github.flux4j.FluxIoException if it cannot be read
     */
    public static FluxTransformer load(Path file, LoadOptions options) {
        try (WeightSource source = WeightSource.gguf(file)) {
            return FluxTransformer.load(source, options);
        }
    }
}
