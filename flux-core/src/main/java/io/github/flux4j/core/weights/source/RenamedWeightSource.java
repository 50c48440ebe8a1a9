package io.github.flux4j.core.weights.source;

import io.github.flux4j.gguf.GgufMetadata;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Another {@link WeightSource} under different names: each stored name is mapped to the name a
 * model binds, or hidden. Used to read llama.cpp-named GGUF files ({@code enc.blk.0.attn_q.weight})
 * under transformers' names ({@code encoder.block.0.layer.0.SelfAttention.q.weight}), to strip
 * checkpoint prefixes, or to hide tensors a model never uses (a tied duplicate, the vision tower
 * of a full CLIP checkpoint), which strict binding would otherwise report as unexpected.
 *
 * <pre>{@code
 * try (WeightSource w = RenamedWeightSource.of(WeightSource.gguf(file), T5Names::fromLlamaCpp)) {
 *     ...
 * }
 * }</pre>
 *
 * <p>{@link WeightInfo#origin()} keeps the stored name, so error messages name both. The bytes
 * are the underlying source's: nothing is copied. Closing this source closes the underlying one.
 */
public final class RenamedWeightSource extends TableWeightSource<WeightInfo> {

    /** Maps the names of a source. */
    @FunctionalInterface
    public interface NameMapping {
        /**
         * The name to present for a stored tensor.
         *
         * @param storedName the underlying source's name
         * @return the new name, the same name to keep it, or null to hide the tensor
         */
        @Nullable
        String map(String storedName);
    }

    private final WeightSource source;
    private final List<WeightInfo> hidden;

    private RenamedWeightSource(
            WeightSource source,
            Map<String, WeightInfo> byName,
            Map<String, WeightInfo> underlying,
            List<WeightInfo> hidden) {
        super(source.format(), source.path(), Map.of(), byName, underlying);
        this.source = source;
        this.hidden = List.copyOf(hidden);
    }

    private static RenamedWeightSource build(WeightSource source, NameMapping mapping) {
        Map<String, WeightInfo> names = new LinkedHashMap<>();
        Map<String, WeightInfo> under = new LinkedHashMap<>();
        List<WeightInfo> dropped = new ArrayList<>();
        for (WeightInfo t : source.tensors()) {
            String name = mapping.map(t.name());
            if (name == null) {
                dropped.add(t);
                continue;
            }
            WeightInfo previous = under.get(name);
            if (previous != null) {
                throw new WeightException(source.path() + ": tensors " + previous.name() + " and " + t.name()
                        + " would both be read as " + name);
            }
            names.put(name, t.withName(name));
            under.put(name, t);
        }
        return new RenamedWeightSource(source, names, under, dropped);
    }

    /**
     * {@code source} under the names {@code mapping} gives; takes ownership of {@code source}
     * (closing the result closes it).
     *
     * @throws WeightException if two stored tensors map to the same name; {@code source} is then
     *                         left open
     */
    public static RenamedWeightSource of(WeightSource source, NameMapping mapping) {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(mapping, "mapping");
        return build(source, mapping);
    }

    /** The underlying source. */
    public WeightSource underlying() {
        return source;
    }

    /** The underlying source's tensors the mapping hid, under their stored names. */
    public List<WeightInfo> hidden() {
        return hidden;
    }

    @Override
    public WeightFormat format() {
        return source.format();
    }

    @Override
    public Path path() {
        return source.path();
    }

    @Override
    public GgufMetadata metadata() {
        return source.metadata();
    }

    @Override
    public Map<String, Object> config() {
        return source.config();
    }

    @Override
    public ByteBuffer read(WeightInfo tensor) {
        return source.read(own(tensor));
    }

    @Override
    public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
        return source.read(own(tensor), offsetInTensor, length);
    }

    @Override
    public boolean release(ByteBuffer buffer) {
        return source.release(buffer);
    }

    @Override
    protected String owner() {
        return toString();
    }

    @Override
    public void close() {
        source.close();
    }

    @Override
    public String toString() {
        return source + " (renamed)";
    }
}
