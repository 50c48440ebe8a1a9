package io.github.flux4j.core.t5;

import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;

/** {@code layer.0}: pre-norm self-attention with a residual connection. */
final class T5LayerSelfAttention {
    private final T5Attention selfAttention; // SelfAttention.{q,k,v,o}[, relative_attention_bias]
    private final T5LayerNorm layerNorm; // layer_norm.weight [dModel]

    T5LayerSelfAttention(T5Config c, WeightPath w, boolean hasRelativeAttentionBias) {
        this.selfAttention = new T5Attention(c, w.at("SelfAttention"), hasRelativeAttentionBias);
        this.layerNorm = new T5LayerNorm(w.at("layer_norm"), c.dModel(), c.layerNormEpsilon());
    }

    T5Attention selfAttention() {
        return selfAttention;
    }

    void forEachBlockParameter(BiConsumer<String, Tensor> visitor) {
        selfAttention.forEachBlockParameter((n, t) -> visitor.accept("SelfAttention." + n, t));
        layerNorm.forEachParameter((n, t) -> visitor.accept("layer_norm." + n, t));
    }

    Tensor forward(Tensor h, Tensor positionBias) {
        return h.add(selfAttention.forward(layerNorm.forward(h), positionBias));
    }
}
