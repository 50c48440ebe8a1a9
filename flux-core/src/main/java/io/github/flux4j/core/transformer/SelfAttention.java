package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;

/**
 * One stream's attention projections in a double-stream block (BFL {@code SelfAttention}):
 * {@code qkv}, the per-head {@link QkNorm}, and the output {@code proj}. The attention itself is
 * joint over both streams and lives in {@link DoubleStreamBlock}.
 *
 * <p>The {@code qkv} weight is bound as three row blocks, run as three GEMMs, because that is
 * what diffusers runs ({@code to_q}, {@code to_k}, {@code to_v}); one fused GEMM could pick other
 * kernels and round differently.
 */
final class SelfAttention {
    private final LinearOp qkv; // qkv [3 * hidden, hidden]: one GEMM, q, k, v are its column slices
    private final QkNorm norm; // norm.{query,key}_norm.scale [headDim]
    private final LinearOp proj; // proj [hidden, hidden]
    private final long numHeads;
    private final long hidden;

    SelfAttention(FluxConfig c, WeightPath w) {
        long h = c.hiddenSize();
        this.qkv = w.linear("qkv", 3 * h, h, c.qkvBias());
        this.hidden = h;
        this.norm = new QkNorm(w.at("norm"), c.headDim());
        this.proj = w.linear("proj", h, h);
        this.numHeads = c.numHeads();
    }

    /** q, k, v {@code [B, S, H, D]} before the QK norm (the fused path normalises later). */
    Tensor[] qkvRaw(Tensor x) {
        // one GEMM for the three projections; q, k, v are strided views of its output
        Tensor y = qkv.forward(x);
        Tensor q = y.narrow(-1, 0, hidden).unflatten(-1, numHeads, -1);
        Tensor k = y.narrow(-1, hidden, hidden).unflatten(-1, numHeads, -1);
        Tensor v = y.narrow(-1, 2 * hidden, hidden).unflatten(-1, numHeads, -1);
        return new Tensor[] {q, k, v};
    }

    /** The QK norm scales. */
    QkNorm norm() {
        return norm;
    }

    Tensor proj(Tensor attn) {
        return proj.forward(attn);
    }

    /** {@code qkv.*}, {@code norm.*}, {@code proj.*}. */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        qkv.forEachParameter((n, t) -> visitor.accept("qkv." + n, t));
        norm.forEachParameter((n, t) -> visitor.accept("norm." + n, t));
        proj.forEachParameter((n, t) -> visitor.accept("proj." + n, t));
    }
}
