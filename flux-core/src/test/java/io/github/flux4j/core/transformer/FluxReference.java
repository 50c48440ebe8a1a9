package io.github.flux4j.core.transformer;

import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.weights.source.SafetensorsDtype;
import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightInfo;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The diffusers reference tensors of one tiny FLUX variant
 * ({@code reference/flux/<variant>.safetensors}, see its README), read with
 * {@link SafetensorsFile}.
 */
final class FluxReference implements AutoCloseable {
    private final SafetensorsFile file;

    private FluxReference(SafetensorsFile file) {
        this.file = file;
    }

    static FluxReference of(Variant v) {
        URL url = Objects.requireNonNull(FluxReference.class.getResource(v.referenceResource()), v.referenceResource());
        try {
            return new FluxReference(SafetensorsFile.open(Path.of(url.toURI())));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    boolean has(String key) {
        return file.find(key).isPresent();
    }

    Set<String> keys(String prefix) {
        Set<String> out = new TreeSet<>();
        for (WeightInfo e : file.tensors()) {
            if (e.name().startsWith(prefix)) {
                out.add(e.name().substring(prefix.length()));
            }
        }
        return out;
    }

    /** The float32 tensor {@code key}, as a new CPU tensor in the caller's scope. */
    Tensor get(String key) {
        WeightInfo e = file.tensor(key);
        if (file.dtype(e) != SafetensorsDtype.F32) {
            throw new IllegalStateException(key + " is " + file.dtype(e));
        }
        ByteBuffer b = file.data(e);
        FloatBuffer fb = b.asFloatBuffer();
        float[] data = new float[fb.remaining()];
        fb.get(data);
        long[] shape = e.shape();
        return Tensor.create(data, shape.length == 0 ? new long[] {} : shape).to(ScalarType.Float);
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
