package io.github.flux4j.core.t5;

import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * transformers' {@code T5LayerNorm}: a root-mean-square norm without mean subtraction or bias,
 * written out as its ops (not {@code at::rms_norm}, which rounds differently): the variance in
 * float32, {@code h * rsqrt(var + eps)} (promoting to float32), a cast to the weight's dtype when
 * that is bf16/f16, then {@code weight * h}.
 */
final class T5LayerNorm {
    private final Tensor weight; // weight [dModel]
    private final double eps;

    T5LayerNorm(WeightPath w, long dModel, double eps) {
        this.weight = w.tensor("weight", dModel);
        this.eps = eps;
    }

    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        visitor.accept("weight", weight);
    }

    Tensor forward(Tensor h) {
        Tensor variance =
                h.to(ScalarType.Float).pow(new Scalar(2)).mean(new long[] {-1}, true, new ScalarTypeOptional());
        Tensor normed = h.mul(torch.rsqrt(variance.add(new Scalar(eps))));
        ScalarType wt = Torch.dtype(weight);
        if (wt == ScalarType.Half || wt == ScalarType.BFloat16) {
            normed = normed.to(wt);
        }
        return weight.mul(normed);
    }
}
