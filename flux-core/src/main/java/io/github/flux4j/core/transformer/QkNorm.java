package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;

/**
 * RMSNorm of queries and keys per head, with learned scales (BFL {@code QKNorm}; diffusers
 * {@code norm_q}/{@code norm_k}, {@code torch.nn.RMSNorm(128, eps=1e-6)}). Runs {@code at::rms_norm},
 * which normalizes in float32 and multiplies by the weight before rounding once.
 */
final class QkNorm {
    private final Tensor queryNorm; // query_norm.scale [headDim]
    private final Tensor keyNorm; // key_norm.scale   [headDim]

    QkNorm(WeightPath w, long headDim) {
        this.queryNorm = w.tensor("query_norm.scale", headDim);
        this.keyNorm = w.tensor("key_norm.scale", headDim);
    }

    Tensor query(Tensor q) {
        return Functional.rmsNorm(q, queryNorm, FluxMath.EPS);
    }

    Tensor key(Tensor k) {
        return Functional.rmsNorm(k, keyNorm, FluxMath.EPS);
    }

    /** query_norm.scale {@code [headDim]}, in the compute dtype; owned by the model. */
    Tensor queryScale() {
        return queryNorm;
    }

    /** key_norm.scale {@code [headDim]}, in the compute dtype; owned by the model. */
    Tensor keyScale() {
        return keyNorm;
    }

    /** {@code query_norm.scale}, {@code key_norm.scale}. */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        visitor.accept("query_norm.scale", queryNorm);
        visitor.accept("key_norm.scale", keyNorm);
    }
}
