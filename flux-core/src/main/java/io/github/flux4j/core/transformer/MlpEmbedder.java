package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;

/**
 * {@code out_layer(silu(in_layer(x)))}: BFL's {@code MLPEmbedder}, used for {@code time_in},
 * {@code vector_in} and {@code guidance_in} (diffusers' {@code TimestepEmbedding} and
 * {@code PixArtAlphaTextProjection}, both {@code linear_1 -> silu -> linear_2}).
 */
final class MlpEmbedder {
    private final LinearOp inLayer; // in_layer  [hidden, inDim]
    private final LinearOp outLayer; // out_layer [hidden, hidden]

    MlpEmbedder(WeightPath w, long inDim, long hidden) {
        this.inLayer = w.linear("in_layer", hidden, inDim);
        this.outLayer = w.linear("out_layer", hidden, hidden);
    }

    Tensor forward(Tensor x) {
        return outLayer.forward(Functional.silu(inLayer.forward(x)));
    }
}
