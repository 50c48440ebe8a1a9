package io.github.flux4j.core.transformer;

import java.util.function.BiConsumer;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.WeightPath;
import java.util.List;
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
    private final List<LinearOp> qkv; // qkv [3 * hidden, hidden] as q, k, v blocks of [hidden, hidden]
    private final QkNorm norm;        // norm.{query,key}_norm.scale [headDim]
    private final LinearOp proj;      // proj [hidden, hidden]
    private final long numHeads;

    SelfAttention(FluxConfig c, WeightPath w) {
        long h = c.hiddenSize();
        this.qkv = w.linearSplit("qkv", new long[] {h, h, h}, h, c.qkvBias());
        this.norm = new QkNorm(w.at("norm"), c.headDim());
        this.proj = w.linear("proj", h, h);
        this.numHeads = c.numHeads();
    }

    /** Normed q, k and raw v, each {@code [B, S, heads, headDim]}, for input {@code x [B, S, hidden]}. */
    Tensor[] qkv(Tensor x) {
        Tensor q = qkv.get(0).forward(x).unflatten(-1, numHeads, -1);
        Tensor k = qkv.get(1).forward(x).unflatten(-1, numHeads, -1);
        Tensor v = qkv.get(2).forward(x).unflatten(-1, numHeads, -1);
        return new Tensor[] {norm.query(q), norm.key(k), v};
    }

    /** The output projection of this stream's part of the attention result. */
    Tensor proj(Tensor attn) {
        return proj.forward(attn);
    }

    /** {@code qkv.*} (as its q, k, v row blocks: {@code qkv.0.*} .. {@code qkv.2.*}), {@code norm.*}, {@code proj.*}. */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        for (int i = 0; i < qkv.size(); i++) {
            String prefix = "qkv." + i + ".";
            qkv.get(i).forEachParameter((n, t) -> visitor.accept(prefix + n, t));
        }
        norm.forEachParameter((n, t) -> visitor.accept("norm." + n, t));
        proj.forEachParameter((n, t) -> visitor.accept("proj." + n, t));
    }
}
