package io.github.flux4j.core.vae;

import io.github.flux4j.core.nn.Linears;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.weights.source.SafetensorsDtype;
import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.gguf.GgmlType;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * The committed diffusers reference data of {@code tools/reference/vae_refs.py}
 * ({@code reference/vae/}, see its README): the tiny VAE's folder and BFL file, and
 * {@code vae-reference.safetensors} with inputs and expected outputs.
 */
final class VaeReference implements AutoCloseable {
    static final String DIR = "/reference/vae/";

    private final SafetensorsFile file;

    private VaeReference(SafetensorsFile file) {
        this.file = file;
    }

    /** Opens {@code vae-reference.safetensors}. */
    static VaeReference open() {
        return open(resource("vae-reference.safetensors"));
    }

    /** Opens a file with the same keys ({@code tools/reference/vae_cuda_refs.py}'s output). */
    static VaeReference open(Path file) {
        return new VaeReference(SafetensorsFile.open(file));
    }

    /** A file or folder under {@code reference/vae/} on the test classpath. */
    static Path resource(String name) {
        try {
            return Path.of(Objects.requireNonNull(VaeReference.class.getResource(DIR + name), DIR + name)
                    .toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The tiny VAE's diffusers folder. */
    static Path folder() {
        return resource("tiny-vae");
    }

    /** The tiny VAE's decoder under BFL names. */
    static Path bflFile() {
        return resource("tiny-ae.safetensors");
    }

    /** The F32 or BF16 tensor {@code key} as a new float32 CPU tensor in the caller's scope. */
    Tensor get(String key) {
        WeightInfo e = file.tensor(key);
        GgmlType type = switch (file.dtype(e)) {
            case F32 -> GgmlType.F32;
            case BF16 -> GgmlType.BF16;
            default -> throw new IllegalStateException(key + " is " + file.dtype(e));
        };
        return Linears.tensorFromGguf(type, file.data(e), e.shape(), FluxDevice.cpu(), ComputeDtype.F32);
    }

    /** The uint8 HxWx3 image {@code key}. */
    RgbImage image(String key) {
        WeightInfo e = file.tensor(key);
        if (file.dtype(e) != SafetensorsDtype.U8 || e.shape().length != 3 || e.shape()[2] != 3) {
            throw new IllegalStateException(key + " is " + e);
        }
        ByteBuffer b = file.data(e);
        byte[] rgb = new byte[b.remaining()];
        b.get(rgb);
        return new RgbImage((int) e.shape()[1], (int) e.shape()[0], rgb);
    }

    /** Largest per-channel difference between two images of the same size. */
    static int maxPixelDiff(RgbImage a, RgbImage b) {
        return pixelDiffs(a, b)[0];
    }

    /** {max channel difference, number of channel values that differ}. */
    static int[] pixelDiffs(RgbImage a, RgbImage b) {
        if (a.width() != b.width() || a.height() != b.height()) {
            throw new AssertionError(a + " vs " + b);
        }
        byte[] x = a.rgb();
        byte[] y = b.rgb();
        int max = 0;
        int n = 0;
        for (int i = 0; i < x.length; i++) {
            int d = Math.abs((x[i] & 0xFF) - (y[i] & 0xFF));
            max = Math.max(max, d);
            n += d > 0 ? 1 : 0;
        }
        return new int[] {max, n};
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
