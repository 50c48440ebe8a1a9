package io.github.flux4j.core.weights.binding;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.nn.Linears;
import io.github.flux4j.core.nn.WeightExpansion;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.quant.TorchDequantizer;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.LoadedModel;
import io.github.flux4j.core.weights.WeightBindingException;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightFormat;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.gguf.GgmlType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a model from a {@link WeightSource}, strictly: nothing is loaded unless every tensor
 * the model asks for is present with the right shape and a loadable type.
 *
 * <pre>{@code
 * LoadOptions options = LoadOptions.defaults().withDtype(ComputeDtype.F32);
 * FluxTransformer model = WeightBinder.bind(source, options, "a FLUX transformer",
 *         w -> new FluxTransformer(config, w));
 * }</pre>
 *
 * <p>The factory runs twice. The first run is a <em>check</em>: every {@link WeightPath} request
 * is validated and answered with a placeholder (a {@link LinearOp} that refuses to run, an
 * undefined tensor), and all problems are collected. If there are any, a
 * {@link WeightBindingException} lists them all (in strict mode this includes every source
 * tensor the model did not ask for). Only then does the second run load the weights onto the
 * device. Factories must therefore only store what the path hands them, not compute with it.
 * If the load run fails, whatever it had loaded is freed.
 */
public final class WeightBinder {
    private static final Logger LOG = LoggerFactory.getLogger(WeightBinder.class);

    /** The binder whose factory runs on this thread ({@link #running}); unset otherwise. */
    private static final ThreadLocal<WeightBinder> RUNNING = new ThreadLocal<>();

    private final WeightSource source;
    private final FluxDevice device;
    private final ComputeDtype dtype;
    private final DequantArithmetic arithmetic;
    private final WeightExpansion expansion;
    private final boolean checking;
    private final LoadedWeights loaded;
    /** Bytes copied out of the source so far (the load run). */
    private long copiedBytes;

    private final List<WeightBindingException.Problem> problems = new ArrayList<>();
    private final Set<String> used = new LinkedHashSet<>();
    /** Requests by name, in order, when the binder only records shapes ({@link #shapes}); null otherwise. */
    private @Nullable Map<String, long[]> recorded;

    private WeightBinder(
            WeightSource source,
            LoadOptions options,
            WeightExpansion expansion,
            boolean checking,
            List<WeightInfo> leftovers) {
        this.source = source;
        this.device = options.device();
        this.dtype = options.dtype();
        this.arithmetic = options.arithmetic();
        this.expansion = expansion;
        this.checking = checking;
        this.loaded = new LoadedWeights(leftovers);
    }

    /**
     * Checks, then builds.
     *
     * @param source  the weights
     * @param options device, dtype, dequantization arithmetic, strictness, expansion of
     *                quantized weights (one policy, with its cache budget, per bound model)
     * @param what    what is being built, for the exception message ("a FLUX transformer")
     * @param factory builds the model from the root path; runs twice (check, then load)
     * @return the model of the load run
     * @throws WeightBindingException listing every problem the check found
     */
    public static <T> T bind(WeightSource source, LoadOptions options, String what, Function<WeightPath, T> factory) {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(options, "options");
        boolean strict = options.strict();
        // A fresh expansion policy per bound model: its cache budget is the model's own.
        WeightExpansion expansion =
                WeightExpansion.of(options.cudaKernels(), options.fusedMatvec(), options.dequantizedCacheBytes());
        WeightBinder check = new WeightBinder(source, options, expansion, true, List.of());
        try (PointerScope scope = new PointerScope()) {
            var unused = check.run(factory); // the check run's model holds only placeholders
        } catch (TooManyMissing e) {
            // A configuration asking for far more tensors than the source holds (a config.json
            // saying 2147483647 layers, say) would otherwise build placeholders for ever.
            List<WeightBindingException.Problem> first = new ArrayList<>(check.problems.subList(0, 20));
            first.add(new WeightBindingException.Problem(
                    WeightBindingException.Kind.MISSING,
                    "...",
                    "and more: the configuration asks for over " + check.problems.size() + " tensors the source does"
                            + " not have, while it holds " + source.tensors().size() + " in all (a config.json that"
                            + " does not describe these weights?)"));
            throw new WeightBindingException(source.path(), what, first);
        }
        List<WeightBindingException.Problem> problems = new ArrayList<>(check.problems);
        List<WeightInfo> leftovers = source.tensors().stream()
                .filter(t -> !check.used.contains(t.name()))
                .toList();
        if (strict) {
            for (WeightInfo t : leftovers) {
                problems.add(new WeightBindingException.Problem(
                        WeightBindingException.Kind.UNEXPECTED,
                        t.name(),
                        t.storedType() + " " + Arrays.toString(t.shape()) + " (" + t.origin() + ")"));
            }
        }
        if (!problems.isEmpty()) {
            throw new WeightBindingException(source.path(), what, problems);
        }
        if (!leftovers.isEmpty()) {
            LOG.warn(
                    "{}: {} tensors not used by {}: {}",
                    source.path(),
                    leftovers.size(),
                    what,
                    leftovers.stream().limit(10).map(WeightInfo::name).toList());
        }
        WeightBinder load = new WeightBinder(source, options, expansion, false, leftovers);
        try {
            T model = load.run(factory);
            if (!load.problems.isEmpty()) {
                throw new IllegalStateException(
                        "the factory asked for other weights when loading than when checking: " + load.problems);
            }
            return model;
        } catch (RuntimeException | Error e) {
            try {
                load.loaded.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } finally {
            MappedPages.loadEnded(load.copiedBytes); // loaded or not
        }
    }

    /**
     * The tensors a model binds, name to shape, in the order its constructor asks for them: the
     * factory's check run against no weights at all. So a model's names are written once, in its
     * constructors, and tools that write synthetic weight files take the table from here.
     *
     * @param factory builds the model from the root path (as for {@link #bind}); what it returns is dropped
     * @return a new map the caller may change
     */
    public static Map<String, long[]> shapes(Function<WeightPath, ?> factory) {
        WeightBinder recorder = new WeightBinder(
                NoWeights.INSTANCE, LoadOptions.defaults(), WeightExpansion.defaults(), true, List.of());
        recorder.recorded = new LinkedHashMap<>();
        try (PointerScope scope = new PointerScope()) {
            var unused = recorder.run(factory); // only the names and shapes it asked for matter
        }
        return recorder.recorded;
    }

    WeightPath root() {
        return new WeightPath(this, "");
    }

    /** Runs {@code factory} on the root path, this binder being {@link #running} meanwhile. */
    private <T> T run(Function<WeightPath, T> factory) {
        @Nullable WeightBinder outer = RUNNING.get();
        RUNNING.set(this);
        try {
            return factory.apply(root());
        } finally {
            if (outer == null) {
                RUNNING.remove();
            } else {
                RUNNING.set(outer);
            }
        }
    }

    /**
     * The root path of the binding whose factory runs on this thread: where {@link LoadedModel}'s
     * constructor takes the model's weights, device and dtype from, so that its signature names
     * no type of this (not exported) package.
     *
     * @param model the model being constructed, for the message
     * @throws IllegalStateException if no factory runs here (a model constructed other than by
     *                               its {@code load} methods)
     */
    public static WeightPath running(String model) {
        @Nullable WeightBinder binder = RUNNING.get();
        if (binder == null) {
            throw new IllegalStateException(
                    model + " is constructed only by a weight binding (the model's load methods)");
        }
        return binder.root();
    }

    WeightSource source() {
        return source;
    }

    FluxDevice device() {
        return device;
    }

    ComputeDtype dtype() {
        return dtype;
    }

    boolean checking() {
        return checking;
    }

    LoadedWeights loaded() {
        return loaded;
    }

    /** Looks a tensor up without binding it. */
    Optional<WeightInfo> find(String name) {
        return source.find(name);
    }

    /** Marks {@code name} used and validates it; null (with a problem recorded) if it is unusable. */
    private @Nullable WeightInfo require(String name, long[] shape) {
        if (!used.add(name)) {
            throw new IllegalStateException("tensor " + name + " bound twice");
        }
        if (recorded != null) {
            recorded.put(name, shape.clone());
            return null;
        }
        Optional<WeightInfo> found = source.find(name);
        if (found.isEmpty()) {
            problem(
                    WeightBindingException.Kind.MISSING,
                    name,
                    "expected " + Arrays.toString(shape) + source.missingHint(name));
            return null;
        }
        WeightInfo t = found.get();
        // Mark the stored name too, for sources that accept prefixed look-ups.
        used.add(t.name());
        boolean ok = true;
        if (!t.hasShape(shape)) {
            problem(
                    WeightBindingException.Kind.SHAPE,
                    name,
                    "expected " + Arrays.toString(shape) + ", found " + t.storedType() + " "
                            + Arrays.toString(t.shape()) + " (" + t.origin() + ")");
            ok = false;
        }
        GgmlType type = t.type();
        if (type == null) {
            problem(
                    WeightBindingException.Kind.TYPE,
                    name,
                    "dtype " + t.storedType()
                            + " cannot be loaded; FLUX weights must be F32, F16, BF16 or GGML blocks (" + t.origin()
                            + ")");
            ok = false;
        } else if (!TorchDequantizer.isSupported(type)) {
            problem(
                    WeightBindingException.Kind.TYPE,
                    name,
                    "GGML type " + type + " is not supported (" + t.origin() + ")");
            ok = false;
        }
        return ok ? t : null;
    }

    /** The type of a tensor that {@link #require} accepted (it refuses those without one). */
    private static GgmlType typeOf(WeightInfo t) {
        GgmlType type = t.type();
        if (type == null) {
            throw new IllegalStateException(t.name() + " has no loadable type");
        }
        return type;
    }

    private void problem(WeightBindingException.Kind kind, String name, String detail) {
        problems.add(new WeightBindingException.Problem(kind, name, detail));
        if (checking && problems.size() > source.tensors().size() + MISSING_SLACK) {
            throw new TooManyMissing();
        }
    }

    /**
     * More problems than the source has tensors, plus this: the configuration cannot be the
     * source's, and the check stops instead of visiting every tensor a corrupt size asks for.
     */
    private static final int MISSING_SLACK = 64;

    /** Stops a check run that cannot succeed (see {@link #MISSING_SLACK}). */
    private static final class TooManyMissing extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TooManyMissing() {
            super(null, null, false, false);
        }
    }

    WeightExpansion expansion() {
        return expansion;
    }

    LinearOp linear(String name, long out, long in, boolean bias) {
        WeightInfo w = require(name + ".weight", new long[] {out, in});
        WeightInfo b = bias ? require(name + ".bias", new long[] {out}) : null;
        if (checking || w == null || (bias && b == null)) {
            if (!checking) {
                throw new IllegalStateException("weights for " + name + " changed between check and load");
            }
            return new Placeholder(name, out, in, w == null ? null : w.type());
        }
        ByteBuffer wBytes = source.read(w);
        ByteBuffer bBytes = b == null ? null : source.read(b);
        LinearOp op = Linears.fromGguf(
                typeOf(w), wBytes, out, in, bBytes, b == null ? null : b.type(), device, dtype, arithmetic, expansion);
        long bytes = w.byteSize() + (b == null ? 0 : b.byteSize());
        loaded.add(op, bytes);
        // copied into LibTorch-owned memory (Linears never keeps a buffer): unmap now
        released(wBytes, w.byteSize());
        if (bBytes != null && b != null) {
            released(bBytes, b.byteSize());
        }
        return op;
    }

    Tensor tensor(String name, long[] shape) {
        WeightInfo t = require(name, shape);
        if (checking || t == null) {
            if (!checking) {
                throw new IllegalStateException("weights for " + name + " changed between check and load");
            }
            return new Tensor();
        }
        ByteBuffer bytes = source.read(t);
        Tensor out = Scopes.keep(Linears.tensorFromGguf(typeOf(t), bytes, shape, device, dtype));
        loaded.add(out, t.byteSize());
        released(bytes, t.byteSize());
        return out;
    }

    /**
     * Gives a copied buffer back to the source, which unmaps it at once where it can; a buffer it
     * keeps mapped is left to the collections {@link MappedPages} asks for.
     */
    private void released(ByteBuffer buffer, long bytes) {
        copiedBytes += bytes;
        if (!source.release(buffer)) {
            MappedPages.copied(bytes);
        }
    }

    /** The empty source {@link #shapes} binds against: it has no tensors, so nothing is ever read. */
    private static final class NoWeights implements WeightSource {
        static final NoWeights INSTANCE = new NoWeights();

        @Override
        public WeightFormat format() {
            throw new UnsupportedOperationException("a shape table has no storage format");
        }

        @Override
        public java.nio.file.Path path() {
            return java.nio.file.Path.of("(no weights: shape table)");
        }

        @Override
        public Map<String, Object> config() {
            return Map.of();
        }

        @Override
        public List<WeightInfo> tensors() {
            return List.of();
        }

        @Override
        public Optional<WeightInfo> find(String name) {
            return Optional.empty();
        }

        @Override
        public ByteBuffer read(WeightInfo tensor) {
            throw new WeightException("a shape table holds no bytes: " + tensor.name());
        }

        @Override
        public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
            throw new WeightException("a shape table holds no bytes: " + tensor.name());
        }

        @Override
        public void close() {}
    }

    /** What a check run hands out instead of a linear layer. */
    private record Placeholder(
            String name,
            long outFeatures,
            long inFeatures,
            @Nullable GgmlType type) implements LinearOp {
        @Override
        public Tensor forward(Tensor x) {
            throw new IllegalStateException(name + " is a placeholder of the binding check; weights are not loaded");
        }

        @Override
        public @Nullable GgmlType quantType() {
            return type == null || !type.isQuantized() ? null : type;
        }

        @Override
        public void close() {}
    }
}
