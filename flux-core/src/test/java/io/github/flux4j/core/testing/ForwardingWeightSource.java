package io.github.flux4j.core.testing;

import io.github.flux4j.core.weights.source.WeightFormat;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.gguf.GgufMetadata;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A {@link WeightSource} that passes every call to another one: tests override only the calls
 * they watch or refuse (reads, releases) and see the wrapped source unchanged otherwise.
 */
public abstract class ForwardingWeightSource implements WeightSource {
    /** The source every call goes to. */
    protected final WeightSource inner;

    protected ForwardingWeightSource(WeightSource inner) {
        this.inner = inner;
    }

    @Override
    public WeightFormat format() {
        return inner.format();
    }

    @Override
    public Path path() {
        return inner.path();
    }

    @Override
    public GgufMetadata metadata() {
        return inner.metadata();
    }

    @Override
    public Map<String, Object> config() {
        return inner.config();
    }

    @Override
    public List<WeightInfo> tensors() {
        return inner.tensors();
    }

    @Override
    public Optional<WeightInfo> find(String name) {
        return inner.find(name);
    }

    @Override
    public String missingHint(String name) {
        return inner.missingHint(name);
    }

    @Override
    public ByteBuffer read(WeightInfo tensor) {
        return inner.read(tensor);
    }

    @Override
    public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
        return inner.read(tensor, offsetInTensor, length);
    }

    @Override
    public boolean release(ByteBuffer buffer) {
        return inner.release(buffer);
    }

    @Override
    public void close() {
        inner.close();
    }
}
