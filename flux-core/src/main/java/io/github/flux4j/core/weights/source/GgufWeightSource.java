package io.github.flux4j.core.weights.source;

import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.gguf.GgufMetadata;
import io.github.flux4j.gguf.MappedRegions;
import io.github.flux4j.gguf.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF file as a {@link WeightSource}: the file's names are already BFL's (a
 * {@code model.diffusion_model.} prefix is removed by {@link GgufFile}; when the file has prefixed
 * names, unprefixed tensors are not part of the transformer and are left out).
 */
final class GgufWeightSource implements WeightSource {
    private final GgufFile file;
    private final List<WeightInfo> tensors;
    private final Map<String, WeightInfo> byName;
    private final Map<String, TensorInfo> infos;

    private GgufWeightSource(GgufFile file) {
        this.file = file;
        List<WeightInfo> list = new ArrayList<>();
        Map<String, WeightInfo> names = new LinkedHashMap<>();
        Map<String, TensorInfo> raw = new LinkedHashMap<>();
        String fileName = String.valueOf(file.path().getFileName());
        // As for safetensors: if any name carries the diffusion-model prefix, only those are the
        // transformer (an all-in-one file's VAE / text encoder tensors are not its business).
        boolean prefixed =
                file.tensors().stream().anyMatch(t -> t.storedName().startsWith(GgufFile.DIFFUSION_MODEL_PREFIX));
        for (TensorInfo t : file.tensors()) {
            if (prefixed && !t.storedName().startsWith(GgufFile.DIFFUSION_MODEL_PREFIX)) {
                continue;
            }
            WeightInfo w = new WeightInfo(
                    t.name(), t.type(), t.type().name(), t.shape(), t.byteSize(), t.storedName() + " in " + fileName);
            list.add(w);
            names.put(w.name(), w);
            raw.put(w.name(), t);
        }
        this.tensors = List.copyOf(list);
        this.byName = Collections.unmodifiableMap(names);
        this.infos = raw;
    }

    static GgufWeightSource open(Path path) {
        return new GgufWeightSource(GgufFile.open(path));
    }

    /** The underlying file. */
    GgufFile file() {
        return file;
    }

    @Override
    public WeightFormat format() {
        return WeightFormat.GGUF;
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public GgufMetadata metadata() {
        return file.metadata();
    }

    @Override
    public Map<String, Object> config() {
        return Map.of();
    }

    @Override
    public List<WeightInfo> tensors() {
        return tensors;
    }

    @Override
    public Optional<WeightInfo> find(String name) {
        WeightInfo w = byName.get(name);
        if (w == null && name.startsWith(GgufFile.DIFFUSION_MODEL_PREFIX)) {
            w = byName.get(name.substring(GgufFile.DIFFUSION_MODEL_PREFIX.length()));
        }
        return Optional.ofNullable(w);
    }

    @Override
    public ByteBuffer read(WeightInfo tensor) {
        return file.tensorData(own(tensor));
    }

    @Override
    public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
        return file.tensorData(own(tensor), offsetInTensor, length);
    }

    /** Unmaps the buffer now: each read maps its region anew, so nothing else uses it. */
    @Override
    public boolean release(ByteBuffer buffer) {
        return MappedRegions.unmap(buffer);
    }

    private TensorInfo own(WeightInfo tensor) {
        TensorInfo t = infos.get(tensor.name());
        if (t == null || !tensor.equals(byName.get(tensor.name()))) {
            throw new WeightException("tensor " + tensor.name() + " does not belong to " + file.path());
        }
        return t;
    }

    @Override
    public void close() {
        file.close();
    }

    @Override
    public String toString() {
        return "GGUF " + file.path();
    }
}
