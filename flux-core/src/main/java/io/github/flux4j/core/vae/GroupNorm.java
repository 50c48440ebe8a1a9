package io.github.flux4j.core.vae;

import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code nn.GroupNorm(groups, channels, eps, affine=True)}: {@code at::group_norm}, which for
 * bf16 input computes the statistics in float32 and returns bf16, as in PyTorch.
 */
final class GroupNorm {
    /** Every GroupNorm of diffusers' VAE decoder (resnets, mid attention, conv_norm_out) uses 1e-6. */
    static final double EPS = 1e-6;

    private final Tensor weight; // [channels]
    private final Tensor bias; // [channels]
    private final long groups;

    /** Binds {@code weight [channels]} and {@code bias [channels]} under {@code w}. */
    GroupNorm(WeightPath w, long channels, int groups) {
        this.weight = w.tensor("weight", channels);
        this.bias = w.tensor("bias", channels);
        this.groups = groups;
    }

    /** {@code [B, C, ...]} normalized over groups of channels, in the caller's scope. */
    Tensor forward(Tensor x) {
        // cudnn_enabled=true, what F.group_norm passes (torch.backends.cudnn.enabled)
        return torch.group_norm(x, groups, new TensorOptional(weight), new TensorOptional(bias), EPS, true);
    }
}
