package io.github.flux4j.core.offload;

import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The adapters of {@link StreamableBlocks#register}, by model class: how block streaming reaches
 * a model's blocks without the model's public class implementing a type of this package.
 */
final class StreamableRegistry {
    private static final Map<Class<?>, Function<Object, ? extends StreamableBlocks>> ADAPTERS =
            new ConcurrentHashMap<>();

    private StreamableRegistry() {}

    static <M> void register(Class<M> type, Function<? super M, ? extends StreamableBlocks> blocks) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(blocks, "blocks");
        ADAPTERS.put(type, model -> blocks.apply(type.cast(model)));
    }

    static StreamableBlocks blocksOf(Object model) {
        Objects.requireNonNull(model, "model");
        Function<Object, ? extends StreamableBlocks> adapter = ADAPTERS.get(model.getClass());
        if (adapter == null) {
            throw new IllegalArgumentException(model.getClass().getName() + " has no streamable blocks");
        }
        return adapter.apply(model);
    }
}
