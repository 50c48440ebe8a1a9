package io.github.flux4j.core.clip;

import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code nn.LayerNorm(dim, eps)} with learned weight and bias ({@code layer_norm1},
 * {@code layer_norm2}, {@code final_layer_norm}): one {@code at::layer_norm}, which computes the
 * statistics in float32 for bf16/f16 input and rounds the affine result once.
 */
final class LayerNorm {
    private final Tensor weight; // weight [dim]
    private final Tensor bias; // bias [dim]
    private final double eps;

    LayerNorm(WeightPath w, long dim, double eps) {
        this.weight = w.tensor("weight", dim);
        this.bias = w.tensor("bias", dim);
        this.eps = eps;
    }

    Tensor forward(Tensor x) {
        return torch.layer_norm(
                x, new long[] {x.size(-1)}, new TensorOptional(weight), new TensorOptional(bias), eps, true);
    }
}
