package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * The output head: adaptive LayerNorm then a projection to the packed latent channels (BFL
 * {@code LastLayer}; diffusers {@code norm_out} + {@code proj_out}).
 *
 * <p>BFL's {@code adaLN_modulation.1} rows are (shift, scale); diffusers stores the same linear
 * with the halves swapped and chunks (scale, shift). Either way the output is
 * {@code LN(x) * (1 + scale) + shift}.
 */
final class LastLayer {
    private final LinearOp adaLnModulation; // adaLN_modulation.1 [2h, h] (shift rows, then scale rows)
    private final LinearOp linear; // linear [outChannels, h]
    private final FluxOps ops;

    LastLayer(FluxConfig c, WeightPath w) {
        // bound in the order city96's files store them (FluxConfig.bflTensorShapes follows this order)
        this.linear = w.linear("linear", c.outChannels(), c.hiddenSize());
        this.adaLnModulation = w.linear("adaLN_modulation.1", 2L * c.hiddenSize(), c.hiddenSize());
        this.ops = new FluxOps(w.expansion().kernels());
    }

    /**
     * The modulated, normalized image tokens {@code [B, Simg, h]} (diffusers' {@code norm_out}
     * output); {@code siluVec} is {@code silu(vec)}.
     */
    Tensor norm(Tensor x, Tensor siluVec) {
        TensorVector mod = adaLnModulation.forward(siluVec).chunk(2, 1);
        return ops.modulatedLayerNorm(x, mod.get(0), mod.get(1));
    }

    /** {@code linear(norm(x, vec))}: {@code [B, Simg, outChannels]}. */
    Tensor project(Tensor normed) {
        return linear.forward(normed);
    }
}
