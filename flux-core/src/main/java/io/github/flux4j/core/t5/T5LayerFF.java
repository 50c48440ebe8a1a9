package io.github.flux4j.core.t5;

import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;

/** {@code layer.1}: pre-norm feed-forward with a residual connection. */
final class T5LayerFF {
    private final T5DenseActDense denseReluDense; // DenseReluDense.{wi_0,wi_1 | wi},wo
    private final T5LayerNorm layerNorm; // layer_norm.weight [dModel]

    T5LayerFF(T5Config c, WeightPath w) {
        this.denseReluDense = new T5DenseActDense(c, w.at("DenseReluDense"));
        this.layerNorm = new T5LayerNorm(w.at("layer_norm"), c.dModel(), c.layerNormEpsilon());
    }

    T5DenseActDense denseReluDense() {
        return denseReluDense;
    }

    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        denseReluDense.forEachParameter((n, t) -> visitor.accept("DenseReluDense." + n, t));
        layerNorm.forEachParameter((n, t) -> visitor.accept("layer_norm." + n, t));
    }

    Tensor forward(Tensor h) {
        return h.add(denseReluDense.forward(layerNorm.forward(h)));
    }
}
