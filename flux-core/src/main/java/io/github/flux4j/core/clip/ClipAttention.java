package io.github.flux4j.core.clip;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code self_attn}: causal multi-head self-attention. Computed as transformers' default
 * ("sdpa") path does for CLIP without a padding mask: one {@code scaled_dot_product_attention}
 * with {@code is_causal=True} and the scale {@code head_dim ** -0.5}.
 */
final class ClipAttention {
    private final LinearOp qProj; // q_proj   [hidden, hidden] + bias
    private final LinearOp kProj; // k_proj   [hidden, hidden] + bias
    private final LinearOp vProj; // v_proj   [hidden, hidden] + bias
    private final LinearOp outProj; // out_proj [hidden, hidden] + bias
    private final long heads;
    private final double scale;

    ClipAttention(ClipTextConfig c, WeightPath w) {
        long h = c.hiddenSize();
        this.kProj = w.linear("k_proj", h, h);
        this.vProj = w.linear("v_proj", h, h);
        this.qProj = w.linear("q_proj", h, h);
        this.outProj = w.linear("out_proj", h, h);
        this.heads = c.numAttentionHeads();
        this.scale = Math.pow(c.headDim(), -0.5); // self.head_dim**-0.5
    }

    /** {@code x [B, L, hidden]} to {@code [B, L, hidden]}. */
    Tensor forward(Tensor x) {
        Tensor q = qProj.forward(x).unflatten(-1, heads, -1).transpose(1, 2);
        Tensor k = kProj.forward(x).unflatten(-1, heads, -1).transpose(1, 2);
        Tensor v = vProj.forward(x).unflatten(-1, heads, -1).transpose(1, 2);
        Tensor a = torch.scaled_dot_product_attention(
                q, k, v, new TensorOptional(), 0.0, true, new DoubleOptional(scale), false);
        return outProj.forward(a.transpose(1, 2).reshape(x.size(0), x.size(1), -1));
    }
}
