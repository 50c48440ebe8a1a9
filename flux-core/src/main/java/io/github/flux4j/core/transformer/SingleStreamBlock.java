package io.github.flux4j.core.transformer;

import java.util.function.BiConsumer;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.weights.WeightPath;
import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * A single-stream block over the joint {@code [txt | img]} sequence, attention and MLP in
 * parallel (BFL {@code SingleStreamBlock}, diffusers {@code FluxSingleTransformerBlock}).
 *
 * <pre>
 * (shift, scale, gate) = modulation(vec);  xm = LN(x) * (1 + scale) + shift
 * q, k, v, mlp = linear1(xm)                    // bound as four row blocks: to_q, to_k, to_v, proj_mlp
 * a = SDPA(rope(norm_q(q)), rope(norm_k(k)), v)
 * x = x + gate * linear2(cat(a, gelu_tanh(mlp)))
 * </pre>
 */
final class SingleStreamBlock {
    private final List<LinearOp> linear1; // linear1 [3h + mlp, h] as q, k, v [h, h] and mlp [mlp, h] blocks
    private final LinearOp linear2;       // linear2 [h, h + mlp]
    private final QkNorm norm;            // norm.{query,key}_norm.scale [headDim]
    private final Modulation modulation;  // modulation.lin [3h, h]
    private final long numHeads;
    private final boolean clipF16;

    SingleStreamBlock(FluxConfig c, WeightPath w) {
        long h = c.hiddenSize();
        long mlp = c.mlpHidden();
        this.linear1 = w.linearSplit("linear1", new long[] {h, h, h, mlp}, h, true);
        this.linear2 = w.linear("linear2", h, h + mlp);
        this.norm = new QkNorm(w.at("norm"), c.headDim());
        this.modulation = new Modulation(w.at("modulation"), h, false);
        this.numHeads = c.numHeads();
        this.clipF16 = w.dtype() == ComputeDtype.F16;
    }

    /** {@code x [B, Stxt + Simg, h]} to the same shape. */
    Tensor forward(Tensor x, Tensor vec, EmbedNd.Rope pe) {
        Modulation.Out mod = modulation.forward(vec)[0];
        Tensor xm = FluxMath.modulate(FluxMath.layerNorm(x), mod.shift(), mod.scale());
        Tensor mlp = FluxMath.geluTanh(linear1.get(3).forward(xm));
        Tensor q = norm.query(linear1.get(0).forward(xm).unflatten(-1, numHeads, -1));
        Tensor k = norm.key(linear1.get(1).forward(xm).unflatten(-1, numHeads, -1));
        Tensor v = linear1.get(2).forward(xm).unflatten(-1, numHeads, -1);
        q = FluxMath.applyRope(q, pe.cos(), pe.sin());
        k = FluxMath.applyRope(k, pe.cos(), pe.sin());
        Tensor attn = FluxMath.attention(q, k, v);
        Tensor out = x.add(FluxMath.gate(mod.gate(), linear2.forward(torch.cat(new TensorVector(attn, mlp), 2))));
        if (clipF16) {
            out = out.clamp(new ScalarOptional(new Scalar(-65504.0)), new ScalarOptional(new Scalar(65504.0)));
        }
        return out;
    }

    /**
     * Every weight tensor of the block, named relative to {@code single_blocks.N} (block
     * streaming); {@code linear1} as its four row blocks {@code linear1.0.*} .. {@code linear1.3.*}.
     */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        for (int i = 0; i < linear1.size(); i++) {
            String prefix = "linear1." + i + ".";
            linear1.get(i).forEachParameter((n, t) -> visitor.accept(prefix + n, t));
        }
        linear2.forEachParameter((n, t) -> visitor.accept("linear2." + n, t));
        norm.forEachParameter((n, t) -> visitor.accept("norm." + n, t));
        modulation.forEachParameter((n, t) -> visitor.accept("modulation." + n, t));
    }
}
