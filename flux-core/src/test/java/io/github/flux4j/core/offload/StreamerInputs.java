package io.github.flux4j.core.offload;

import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.core.transformer.FluxTransformer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Deterministic (seedless) transformer inputs for any configuration: smooth patterns, no generator. */
final class StreamerInputs {
    private StreamerInputs() {}

    static Tensor pattern(long[] shape, double freq) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return torch.arange(new Scalar(n), new TensorOptions(ScalarType.Float))
                .mul(new Scalar(freq))
                .sin()
                .view(shape);
    }

    /** One forward on an image of {@code tokens} packed tokens and {@code txt} text tokens. */
    static Tensor forward(FluxTransformer m, int tokens, int txt) {
        FluxConfig c = m.config();
        Tensor img = pattern(new long[] {1, tokens, c.inChannels()}, 0.37);
        Tensor imgIds = pattern(new long[] {tokens, 3}, 0.11).mul(new Scalar(8));
        Tensor t5 = pattern(new long[] {1, txt, c.contextInDim()}, 0.53);
        Tensor txtIds = torch.zeros(new long[] {txt, 3}, new TensorOptions(ScalarType.Float));
        Tensor timestep = torch.full(new long[] {1}, new Scalar(0.75), new TensorOptions(ScalarType.Float));
        Tensor y = pattern(new long[] {1, c.vecInDim()}, 0.29);
        Tensor guidance = c.guidanceEmbed()
                ? torch.full(new long[] {1}, new Scalar(3.5), new TensorOptions(ScalarType.Float))
                : null;
        return m.forward(img, imgIds, t5, txtIds, timestep, y, guidance);
    }
}
