package io.github.flux4j.core.weights.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.json.JsonErrors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Base of the {@link WeightSource}s that present a fixed table of tensors, built when the source
 * is opened: each presented {@link WeightInfo} with where its bytes are ({@code T}: a safetensors
 * file's tensor or the file itself, a list of byte ranges, another source's tensor). Gives {@link #tensors()},
 * {@link #find(String)}, {@link #format()}, {@link #path()} and {@link #config()} (the
 * {@link #metadata()} of safetensors sources is empty), and {@link #own(WeightInfo)} to look up a tensor handed to {@code read};
 * plus the safetensors helpers the sources share (reading {@code config.json}, closing files after
 * a failure).
 *
 * @param <T> where a tensor's bytes are
 */
public abstract class TableWeightSource<T> implements WeightSource {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final WeightFormat format;
    private final Path path;
    private final Map<String, Object> config;
    private final List<WeightInfo> tensors;
    private final Map<String, WeightInfo> byName;
    private final Map<String, T> stored;

    /**
     * A source presenting {@code byName}.
     *
     * @param format the storage format
     * @param path   the file or folder, for messages
     * @param config the parsed {@code config.json}, or empty
     * @param byName the presented tensors, in order, by name
     * @param stored where each presented tensor's bytes are, by the same names
     */
    protected TableWeightSource(
            WeightFormat format,
            Path path,
            Map<String, Object> config,
            Map<String, WeightInfo> byName,
            Map<String, T> stored) {
        this.format = format;
        this.path = path;
        this.config = Collections.unmodifiableMap(config);
        this.tensors = List.copyOf(byName.values());
        this.byName = Collections.unmodifiableMap(byName);
        this.stored = stored;
    }

    @Override
    public WeightFormat format() {
        return format;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public Map<String, Object> config() {
        return config;
    }

    @Override
    public List<WeightInfo> tensors() {
        return tensors;
    }

    @Override
    public Optional<WeightInfo> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * Where the bytes of a tensor of this source are.
     *
     * @throws WeightException if {@code tensor} is not one this source presents
     */
    protected final T own(WeightInfo tensor) {
        T s = stored.get(tensor.name());
        if (s == null || !tensor.equals(byName.get(tensor.name()))) {
            throw new WeightException("tensor " + tensor.name() + " does not belong to " + owner());
        }
        return s;
    }

    /** The source as named in {@link #own}'s message: its {@link #path()}. */
    protected String owner() {
        return String.valueOf(path);
    }

    // ---------------------------------------------------------------------------------- helpers

    /**
     * A {@code config.json} parsed as a JSON object; empty if there is no such file.
     *
     * @throws WeightException if it is not a JSON object
     * @throws FluxIoException if it cannot be read
     */
    protected static Map<String, Object> readConfig(Path cfg) {
        if (!Files.isRegularFile(cfg)) {
            return Map.of();
        }
        try {
            return JSON.readValue(cfg.toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
        } catch (JsonProcessingException e) {
            throw new WeightException(cfg + " is not a JSON object: " + JsonErrors.describe(e), e);
        } catch (IOException e) {
            throw FluxIoException.of(cfg, e);
        }
    }

    /**
     * Closes {@code files} after {@code failure}, adding their own close failures to it as
     * suppressed exceptions.
     */
    protected static void closeAfter(Throwable failure, List<SafetensorsFile> files) {
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (RuntimeException suppressed) {
                failure.addSuppressed(suppressed);
            }
        }
    }

    /** Closes all {@code files}; throws the first close failure, with the later ones suppressed. */
    static void closeAll(List<SafetensorsFile> files) {
        RuntimeException first = null;
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Builds a source from files just opened, which are closed if that fails. */
    @FunctionalInterface
    interface Build<S> {
        S from(List<SafetensorsFile> files);
    }

    /**
     * Opens the safetensors files of a model folder: the shards {@code index} names, when it is
     * not null, else {@code single}, and builds the source from them; closes them if anything
     * fails.
     *
     * @param neither the message when there is no index and no {@code single} file
     */
    static <S> S openFolder(Path dir, @Nullable Path index, Path single, Supplier<String> neither, Build<S> build)
            throws IOException {
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            if (index != null) {
                Map<String, String> weightMap = readWeightMap(index);
                Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
                for (String shard : new LinkedHashSet<>(weightMap.values())) {
                    Path shardPath;
                    try {
                        shardPath = dir.resolve(shard).normalize();
                    } catch (java.nio.file.InvalidPathException e) { // a NUL character, say
                        throw new WeightException(
                                index + ": shard name '" + shard + "' is not a file name: " + e.getReason(), e);
                    }
                    if (shard.isEmpty() || !shardPath.startsWith(dir.normalize())) {
                        throw new WeightException(index + ": shard name '" + shard + "' points outside the folder");
                    }
                    if (!Files.isRegularFile(shardPath)) {
                        throw new WeightException(index + " names shard " + shard + ", which is missing from " + dir);
                    }
                    SafetensorsFile f = SafetensorsFile.open(shardPath);
                    opened.add(f);
                    shards.put(shard, f);
                }
                for (Map.Entry<String, String> e : weightMap.entrySet()) {
                    // every shard named in the map was opened above
                    SafetensorsFile shard = Objects.requireNonNull(shards.get(e.getValue()), e.getValue());
                    if (shard.find(e.getKey()).isEmpty()) {
                        throw new WeightException(index + " puts " + e.getKey() + " in " + e.getValue()
                                + ", which has no such tensor (shards from different downloads?)");
                    }
                }
            } else if (Files.isRegularFile(single)) {
                opened.add(SafetensorsFile.open(single));
            } else {
                throw new WeightException(neither.get());
            }
            return build.from(opened);
        } catch (IOException | RuntimeException | Error e) {
            closeAfter(e, opened);
            throw e;
        }
    }

    private static Map<String, String> readWeightMap(Path index) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new WeightException(index + " is not valid JSON: " + JsonErrors.describe(e), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new WeightException(index + " has no \"weight_map\" object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isTextual()) {
                throw new WeightException(index + ": weight_map entry " + e.getKey() + " is not a file name");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return out;
    }
}
