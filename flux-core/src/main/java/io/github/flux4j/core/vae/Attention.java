package io.github.flux4j.core.vae;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;

/**
 * The mid block's spatial self-attention: diffusers' {@code Attention(channels, heads=1,
 * dim_head=channels, norm_num_groups, eps=1e-6, residual_connection=True, bias=True)} run by
 * {@code AttnProcessor2_0} with no spatial norm, no mask, no q/k norms.
 *
 * <p>Every pixel is a token: {@code [B, C, H, W]} is viewed as {@code [B, HW, C]}, group-normed,
 * projected by the linears {@code to_q/to_k/to_v}, attended with SDPA (one head of width C, scale
 * {@code 1/sqrt(C)}), projected by {@code to_out.0}, reshaped back and added to the input. The
 * transposes follow the processor's exactly, so the same kernels see the same strides. The
 * division by {@code rescale_output_factor} (1 in the decoder) is exact and omitted.
 */
final class Attention {
    /** {@code heads = in_channels // attention_head_dim}, and the decoder passes attention_head_dim = in_channels. */
    private static final int HEADS = 1;

    private final long channels;
    private final GroupNorm groupNorm; // group_norm [C]
    private final LinearOp toQ; // to_q [C, C]
    private final LinearOp toK; // to_k [C, C]
    private final LinearOp toV; // to_v [C, C]
    private final LinearOp toOut0; // to_out.0 [C, C]

    /** Binds {@code w.group_norm, w.to_q, w.to_k, w.to_v, w.to_out.0}. */
    Attention(WeightPath w, long channels, int groups) {
        this.channels = channels;
        this.groupNorm = new GroupNorm(w.at("group_norm"), channels, groups);
        this.toQ = w.linear("to_q", channels, channels);
        this.toK = w.linear("to_k", channels, channels);
        this.toV = w.linear("to_v", channels, channels);
        this.toOut0 = w.linear("to_out.0", channels, channels);
    }

    /** {@code [B, C, H, W] -> [B, C, H, W]}, in the caller's scope. */
    Tensor forward(Tensor x) {
        long b = x.size(0);
        long h = x.size(2);
        long w = x.size(3);
        long headDim = channels / HEADS;
        return Scopes.scoped(() -> {
            Tensor hs = x.view(b, channels, h * w).transpose(1, 2);
            hs = groupNorm.forward(hs.transpose(1, 2)).transpose(1, 2);
            Tensor q = toQ.forward(hs).view(b, -1, HEADS, headDim).transpose(1, 2);
            Tensor k = toK.forward(hs).view(b, -1, HEADS, headDim).transpose(1, 2);
            Tensor v = toV.forward(hs).view(b, -1, HEADS, headDim).transpose(1, 2);
            Tensor o = Functional.sdpa(q, k, v).transpose(1, 2).reshape(b, -1, HEADS * headDim);
            o = toOut0.forward(o);
            o = o.transpose(-1, -2).reshape(b, channels, h, w);
            return o.add(x);
        });
    }
}
