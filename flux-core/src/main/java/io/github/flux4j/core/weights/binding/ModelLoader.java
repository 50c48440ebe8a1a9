package io.github.flux4j.core.weights.binding;

import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.WeightBindingException;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightSource;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * How one model is loaded: the single load path shared by the transformer, the two text encoders
 * and the VAE, each of which holds one of these and exposes it as static {@code load} methods.
 *
 * <pre>{@code
 * static final ModelLoader<T5Config, T5EncoderModel> LOADER = new ModelLoader<>("a T5 encoder",
 *         List.of("t5encoder", "t5"), p -> TextEncoderWeights.open(p, "text_encoder_2"), T5Names::encoderView,
 *         T5Config::inferFrom, T5EncoderModel::describe, T5EncoderModel::new);
 * }</pre>
 *
 * <p>Every load runs the same steps: refuse a GGUF file of another {@code general.architecture}
 * (a file without the key is judged by its tensors), present the source under the names the model
 * binds (the <em>view</em>: renamed, other models' tensors hidden; never closed, since it closes
 * the caller's source), read or infer the configuration from that view, and bind through
 * {@link WeightBinder} (check everything, then load).
 *
 * @param <C> the model's configuration
 * @param <M> the model
 */
public final class ModelLoader<C, M> {

    /** Opens the files a model is published as. */
    @FunctionalInterface
    public interface Opener {
        /**
         * Opens {@code path}; the caller closes the result.
         *
         * @throws io.github.flux4j.FluxIoException if a file cannot be read
         */
        WeightSource open(Path path);
    }

    private final String model;
    private final List<String> architectures;
    private final Opener opener;
    private final UnaryOperator<WeightSource> view;
    private final Function<WeightSource, C> configOf;
    private final BiFunction<WeightSource, C, String> describe;
    private final BiFunction<C, WeightPath, M> factory;

    /**
     * A loader.
     *
     * @param model         what the model is, for messages ("a FLUX transformer")
     * @param architectures the GGUF {@code general.architecture} values accepted (in the order
     *                      messages name them); empty for models no GGUF file holds (the VAE)
     * @param opener        opens a path ({@link #load(Path, LoadOptions)})
     * @param view          the source under the names the model binds (the source itself if they are its names)
     * @param configOf      the configuration read or inferred from the view (config.json, GGUF keys, shapes)
     * @param describe      the model of a configuration, for the binding's messages
     *                      ("a FLUX transformer (dev, depth 19+38, hidden 3072)")
     * @param factory       the model's constructor, the binder's factory (runs twice: check, then load)
     */
    public ModelLoader(
            String model,
            List<String> architectures,
            Opener opener,
            UnaryOperator<WeightSource> view,
            Function<WeightSource, C> configOf,
            BiFunction<WeightSource, C, String> describe,
            BiFunction<C, WeightPath, M> factory) {
        this.model = Objects.requireNonNull(model, "model");
        this.architectures = List.copyOf(architectures);
        this.opener = Objects.requireNonNull(opener, "opener");
        this.view = Objects.requireNonNull(view, "view");
        this.configOf = Objects.requireNonNull(configOf, "configOf");
        this.describe = Objects.requireNonNull(describe, "describe");
        this.factory = Objects.requireNonNull(factory, "factory");
    }

    /**
     * Opens {@code path}, loads the model with the configuration of its files, and closes the files.
     *
     * @throws io.github.flux4j.FluxIoException if a file cannot be read
     * @throws WeightException                  as {@link #load(WeightSource, LoadOptions)}
     */
    public M load(Path path, LoadOptions options) {
        try (WeightSource source = opener.open(path)) {
            return load(source, options);
        }
    }

    /** Opens {@code path}, loads a model of a known configuration, and closes the files. */
    public M load(Path path, C config, LoadOptions options) {
        try (WeightSource source = opener.open(path)) {
            return load(source, config, options);
        }
    }

    /**
     * Loads from an open source (which stays open; the model does not need it afterwards), the
     * configuration read or inferred from it.
     *
     * @throws WeightException if the source is a GGUF file of another architecture, the
     *                         configuration cannot be read or inferred, or tensors are missing,
     *                         mis-shaped or (strict) unexpected: a {@link WeightBindingException}
     *                         then lists all of them
     */
    public M load(WeightSource source, LoadOptions options) {
        checkArchitecture(source);
        WeightSource names = view.apply(source);
        return bind(names, configOf.apply(names), options);
    }

    /** Loads a model of a known configuration from an open source, which stays open. */
    public M load(WeightSource source, C config, LoadOptions options) {
        checkArchitecture(source);
        return bind(view.apply(source), config, options);
    }

    private M bind(WeightSource names, C config, LoadOptions options) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(options, "options");
        Torch.init();
        return WeightBinder.bind(names, options, describe.apply(names, config), w -> factory.apply(config, w));
    }

    /**
     * Refuses a source whose {@code general.architecture} is present and not one this model
     * accepts.
     *
     * @throws WeightException naming the file, its architecture and the accepted ones
     */
    public void checkArchitecture(WeightSource source) {
        Optional<String> arch = source.architecture();
        if (arch.isPresent() && !architectures.isEmpty() && !architectures.contains(arch.get())) {
            throw new WeightException(source.path() + " is a '" + arch.get() + "' model (general.architecture), not "
                    + model + " ("
                    + String.join(
                            " or ",
                            architectures.stream().map(a -> "'" + a + "'").toList())
                    + ")");
        }
    }

    @Override
    public String toString() {
        return "ModelLoader[" + model + "]";
    }
}
