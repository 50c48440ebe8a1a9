package io.github.flux4j.core.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.gguf.GgmlType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A Hugging Face transformers checkpoint as a {@link WeightSource}, tensors under the names they
 * are stored with ({@code text_model.encoder.layers.0.self_attn.q_proj.weight},
 * {@code encoder.block.0.layer.0.SelfAttention.q.weight}): what FLUX's text encoders ship as.
 *
 * <pre>{@code
 * try (WeightSource w = TransformersWeightSource.open(Path.of("FLUX.1-dev/text_encoder_2"))) {
 *     Map<String, Object> config = w.config();                 // config.json
 *     WeightInfo q = w.tensor("encoder.block.0.layer.0.SelfAttention.q.weight");
 * }
 * }</pre>
 *
 * <p>{@link #open} accepts a model folder holding {@code model.safetensors.index.json} and its
 * shards ({@code model-00001-of-00002.safetensors} ...), or a single {@code model.safetensors},
 * plus an optional {@code config.json}; or one {@code .safetensors} file (ComfyUI's
 * {@code clip_l.safetensors}, {@code t5xxl_fp16.safetensors}), whose folder's {@code config.json}
 * is not read. Only F32, F16 and BF16 tensors can be loaded; others are listed with a
 * {@code null} {@link WeightInfo#type()} so that binding names them. To present other names (a
 * prefix removed, duplicates dropped) wrap the source in a {@link RenamedWeightSource}.
 */
public final class TransformersWeightSource implements WeightSource {
    /** The single-file checkpoint name in a transformers model folder. */
    public static final String SINGLE = "model.safetensors";
    /** The index of a sharded checkpoint in a transformers model folder. */
    public static final String INDEX = "model.safetensors.index.json";
    /** The model configuration in a transformers model folder. */
    public static final String CONFIG = "config.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private record Stored(SafetensorsFile file, SafetensorsFile.Entry entry) {
    }

    private final Path path;
    private final List<SafetensorsFile> files;
    private final Map<String, Object> config;
    private final List<WeightInfo> tensors;
    private final Map<String, WeightInfo> byName;
    private final Map<String, Stored> stored;

    private TransformersWeightSource(Path path, List<SafetensorsFile> files, Map<String, Object> config) {
        this.path = path;
        this.files = List.copyOf(files);
        this.config = Collections.unmodifiableMap(config);
        Map<String, WeightInfo> infos = new LinkedHashMap<>();
        Map<String, Stored> entries = new LinkedHashMap<>();
        for (SafetensorsFile f : files) {
            String fileName = String.valueOf(f.path().getFileName());
            for (SafetensorsFile.Entry e : f.tensors()) {
                if (entries.containsKey(e.name())) {
                    throw new WeightException(path + ": tensor " + e.name() + " is stored in more than one shard ("
                            + entries.get(e.name()).file().path().getFileName() + ", " + fileName + ")");
                }
                @Nullable GgmlType type = e.dtype().ggmlType().orElse(null);
                infos.put(e.name(), new WeightInfo(e.name(), type, e.dtype().name(), e.shape(), e.byteSize(),
                        e.name() + " in " + fileName));
                entries.put(e.name(), new Stored(f, e));
            }
        }
        this.byName = Collections.unmodifiableMap(infos);
        this.tensors = List.copyOf(infos.values());
        this.stored = entries;
    }

    /**
     * Opens a transformers model folder or a single safetensors file (see the class comment).
     *
     * @throws NoSuchFileException if {@code path} does not exist
     * @throws WeightException     if a folder has neither {@value #INDEX} nor {@value #SINGLE},
     *                             the index is malformed or names a missing shard, a shard lacks a
     *                             tensor the index puts in it, or {@code config.json} is not a JSON
     *                             object
     * @throws IOException         if a file cannot be read
     */
    public static TransformersWeightSource open(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            SafetensorsFile f = SafetensorsFile.open(path);
            return new TransformersWeightSource(path, List.of(f), Map.of());
        }
        if (!Files.isDirectory(path)) {
            throw new NoSuchFileException(path.toString());
        }
        Map<String, Object> config = readConfig(path.resolve(CONFIG));
        Path index = path.resolve(INDEX);
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            if (Files.isRegularFile(index)) {
                Map<String, String> weightMap = readWeightMap(index);
                Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
                for (String shard : new LinkedHashSet<>(weightMap.values())) {
                    Path shardPath = path.resolve(shard).normalize();
                    if (shard.isEmpty() || !shardPath.startsWith(path.normalize())) {
                        throw new WeightException(index + ": shard name '" + shard + "' points outside the folder");
                    }
                    if (!Files.isRegularFile(shardPath)) {
                        throw new WeightException(index + " names shard " + shard + ", which is missing from " + path);
                    }
                    SafetensorsFile f = SafetensorsFile.open(shardPath);
                    opened.add(f);
                    shards.put(shard, f);
                }
                for (Map.Entry<String, String> e : weightMap.entrySet()) {
                    if (shards.get(e.getValue()).find(e.getKey()).isEmpty()) {
                        throw new WeightException(index + " puts " + e.getKey() + " in " + e.getValue()
                                + ", which has no such tensor (shards from different downloads?)");
                    }
                }
            } else if (Files.isRegularFile(path.resolve(SINGLE))) {
                opened.add(SafetensorsFile.open(path.resolve(SINGLE)));
            } else {
                throw new WeightException(path + " is not a transformers model folder: it has neither " + INDEX
                        + " nor " + SINGLE);
            }
            return new TransformersWeightSource(path, opened, config);
        } catch (IOException | RuntimeException | Error e) {
            for (SafetensorsFile f : opened) {
                try {
                    f.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static Map<String, Object> readConfig(Path cfg) throws IOException {
        if (!Files.isRegularFile(cfg)) {
            return Map.of();
        }
        try {
            return JSON.readValue(cfg.toFile(), new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (JsonProcessingException e) {
            throw new WeightException(cfg + " is not a JSON object: " + e.getOriginalMessage(), e);
        }
    }

    private static Map<String, String> readWeightMap(Path index) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new WeightException(index + " is not valid JSON: " + e.getOriginalMessage(), e);
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

    /** {@link WeightFormat#TRANSFORMERS}. */
    @Override
    public WeightFormat format() {
        return WeightFormat.TRANSFORMERS;
    }

    /** The folder or file opened. */
    @Override
    public Path path() {
        return path;
    }

    /** Always empty: safetensors files carry no architecture key (see {@link #config()}). */
    @Override
    public Optional<String> architecture() {
        return Optional.empty();
    }

    /** The folder's {@code config.json}, parsed; empty for a single file or a folder without one. */
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

    @Override
    public ByteBuffer read(WeightInfo tensor) {
        Stored s = own(tensor);
        return s.file().data(s.entry());
    }

    @Override
    public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
        Stored s = own(tensor);
        return s.file().data(s.entry(), offsetInTensor, length);
    }

    private Stored own(WeightInfo tensor) {
        Stored s = stored.get(tensor.name());
        if (s == null || !tensor.equals(byName.get(tensor.name()))) {
            throw new WeightException("tensor " + tensor.name() + " does not belong to " + path);
        }
        return s;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (IOException e) {
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

    @Override
    public String toString() {
        return "transformers " + path + " (" + tensors.size() + " tensors in " + files.size() + " file"
                + (files.size() == 1 ? "" : "s") + ")";
    }
}
