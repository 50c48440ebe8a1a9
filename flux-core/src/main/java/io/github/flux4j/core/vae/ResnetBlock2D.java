package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.jspecify.annotations.Nullable;

/**
 * diffusers' {@code ResnetBlock2D} as the VAE decoder builds it (no time embedding, eps 1e-6,
 * output_scale_factor 1, no dropout at inference):
 * {@code out = shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))))))}, where the shortcut is a
 * 1x1 {@code conv_shortcut} when the width changes and the identity otherwise.
 */
final class ResnetBlock2D {
    private final GroupNorm norm1; // norm1 [in]
    private final Conv2d conv1; // conv1 [out, in, 3, 3]
    private final GroupNorm norm2; // norm2 [out]
    private final Conv2d conv2; // conv2 [out, out, 3, 3]
    private final @Nullable Conv2d convShortcut; // conv_shortcut [out, in, 1, 1], only if in != out

    /** Binds {@code w.norm1 ... w.conv_shortcut}. */
    ResnetBlock2D(WeightPath w, long in, long out, int groups) {
        this.norm1 = new GroupNorm(w.at("norm1"), in, groups);
        this.conv1 = new Conv2d(w.at("conv1"), out, in, 3);
        this.norm2 = new GroupNorm(w.at("norm2"), out, groups);
        this.conv2 = new Conv2d(w.at("conv2"), out, out, 3);
        this.convShortcut = in != out ? new Conv2d(w.at("conv_shortcut"), out, in, 1) : null;
    }

    /** {@code [B, in, H, W] -> [B, out, H, W]}, in the caller's scope. */
    Tensor forward(Tensor x) {
        // One op per step, each result freeing the previous: what Python's rebinding of
        // hidden_states frees, so that the peak holds no more activations than diffusers'.
        try (TensorSlot h = TensorSlot.of(() -> norm1.forward(x))) {
            h.update(torch::silu);
            h.update(conv1::forward);
            h.update(norm2::forward);
            h.update(torch::silu);
            h.update(conv2::forward);
            // (input_tensor + hidden_states) / output_scale_factor: the factor is 1, and x / 1 is x exactly.
            h.update(t -> (convShortcut == null ? x : convShortcut.forward(x)).add(t));
            return h.handOver();
        }
    }
}
