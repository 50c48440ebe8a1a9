package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * diffusers' {@code UNetMidBlock2D} of the VAE decoder: {@code resnets.0}, the attention
 * {@code attentions.0} (when {@code mid_block_add_attention}), {@code resnets.1}, all at the
 * widest width.
 */
final class UNetMidBlock2D {
    final ResnetBlock2D resnets0; // resnets.0 [C -> C]
    final @Nullable Attention attentions0; // attentions.0 [C]
    private final ResnetBlock2D resnets1; // resnets.1 [C -> C]

    /** Binds {@code w.resnets.0}, {@code w.attentions.0}, {@code w.resnets.1}. */
    UNetMidBlock2D(WeightPath w, VaeConfig config) {
        long c = config.midChannels();
        int groups = config.normNumGroups();
        this.resnets0 = new ResnetBlock2D(w.at("resnets").at(0), c, c, groups);
        this.attentions0 =
                config.midBlockAddAttention() ? new Attention(w.at("attentions").at(0), c, groups) : null;
        this.resnets1 = new ResnetBlock2D(w.at("resnets").at(1), c, c, groups);
    }

    /** {@code [B, C, H, W] -> [B, C, H, W]}, in the caller's scope. */
    Tensor forward(Tensor x) {
        try (TensorSlot h = TensorSlot.of(() -> resnets0.forward(x))) {
            if (attentions0 != null) {
                h.update(attentions0::forward);
            }
            return h.update(resnets1::forward).handOver();
        }
    }
}
