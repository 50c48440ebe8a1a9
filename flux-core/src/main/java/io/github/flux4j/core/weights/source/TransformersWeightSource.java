package io.github.flux4j.core.weights.source;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.gguf.MappedRegions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
public final class TransformersWeightSource extends TableWeightSource<SafetensorsFile> {
    /** The single-file checkpoint name in a transformers model folder. */
    public static final String SINGLE = "model.safetensors";
    /** The index of a sharded checkpoint in a transformers model folder. */
    public static final String INDEX = "model.safetensors.index.json";
    /** The model configuration in a transformers model folder. */
    public static final String CONFIG = "config.json";

    private final List<SafetensorsFile> files;

    private TransformersWeightSource(
            Path path,
            List<SafetensorsFile> files,
            Map<String, Object> config,
            Map<String, WeightInfo> byName,
            Map<String, SafetensorsFile> stored) {
        super(WeightFormat.TRANSFORMERS, path, config, byName, stored);
        this.files = List.copyOf(files);
    }

    private static TransformersWeightSource of(Path path, List<SafetensorsFile> files, Map<String, Object> config) {
        Map<String, WeightInfo> infos = new LinkedHashMap<>();
        Map<String, SafetensorsFile> owners = new LinkedHashMap<>();
        for (SafetensorsFile f : files) {
            for (WeightInfo e : f.tensors()) {
                SafetensorsFile earlier = owners.put(e.name(), f);
                if (earlier != null) {
                    throw new WeightException(path + ": tensor " + e.name() + " is stored in more than one shard ("
                            + earlier.path().getFileName() + ", " + f.path().getFileName() + ")");
                }
                infos.put(e.name(), e); // a file's own descriptor, presented as is
            }
        }
        return new TransformersWeightSource(path, files, config, infos, owners);
    }

    /**
     * Opens a transformers model folder or a single safetensors file (see the class comment).
     *
     * @throws WeightException if a folder has neither {@value #INDEX} nor {@value #SINGLE}, the
     *                         index is malformed or names a missing shard, a shard lacks a tensor
     *                         the index puts in it, or {@code config.json} is not a JSON object
     * @throws FluxIoException if a file cannot be read; its cause is a {@link NoSuchFileException}
     *                         if {@code path} does not exist
     */
    public static TransformersWeightSource open(Path path) {
        try {
            return openPath(path);
        } catch (IOException e) {
            throw FluxIoException.of(path, e);
        }
    }

    private static TransformersWeightSource openPath(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            SafetensorsFile f = SafetensorsFile.open(path);
            return of(path, List.of(f), Map.of());
        }
        if (!Files.isDirectory(path)) {
            throw new NoSuchFileException(path.toString());
        }
        Map<String, Object> config = readConfig(path.resolve(CONFIG));
        Path index = path.resolve(INDEX);
        return openFolder(
                path,
                Files.isRegularFile(index) ? index : null,
                path.resolve(SINGLE),
                () -> path + " is not a transformers model folder: it has neither " + INDEX + " nor " + SINGLE,
                opened -> of(path, opened, config));
    }

    /** {@link WeightFormat#TRANSFORMERS}. */
    @Override
    public WeightFormat format() {
        return super.format();
    }

    /** The folder's {@code config.json}, parsed; empty for a single file or a folder without one. */
    @Override
    public Map<String, Object> config() {
        return super.config();
    }

    @Override
    public ByteBuffer read(WeightInfo tensor) {
        return own(tensor).data(tensor);
    }

    @Override
    public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
        return own(tensor).data(tensor, offsetInTensor, length);
    }

    /** Unmaps the buffer now: each read maps its region anew, so nothing else uses it. */
    @Override
    public boolean release(ByteBuffer buffer) {
        return MappedRegions.unmap(buffer);
    }

    @Override
    public void close() {
        closeAll(files);
    }

    @Override
    public String toString() {
        return "transformers " + path() + " (" + tensors().size() + " tensors in " + files.size() + " file"
                + (files.size() == 1 ? "" : "s") + ")";
    }
}
