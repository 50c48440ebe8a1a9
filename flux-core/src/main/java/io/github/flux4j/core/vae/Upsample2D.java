package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * diffusers' {@code Upsample2D(channels, use_conv=True)}: nearest-neighbour x2, then a 3x3 conv.
 *
 * <p>{@code F.interpolate(x, scale_factor=2.0, mode="nearest")} reaches ATen as
 * {@code upsample_nearest2d(x, [2H, 2W], scales_h=2.0, scales_w=2.0)}, which is called here
 * directly. diffusers upcasts bf16 to float32 around it only for torch < 2.1 (where the kernel
 * lacked bf16); with LibTorch 2.10 it runs in bf16, and nearest copying is exact either way.
 */
final class Upsample2D {
    private static final double SCALE = 2.0;

    private final Conv2d conv; // conv [channels, channels, 3, 3]

    /** Binds {@code w.conv}. */
    Upsample2D(WeightPath w, long channels) {
        this.conv = new Conv2d(w.at("conv"), channels, channels, 3);
    }

    /** {@code [B, C, H, W] -> [B, C, 2H, 2W]}, in the caller's scope. */
    Tensor forward(Tensor x) {
        try (TensorSlot up = TensorSlot.of(() -> torch.upsample_nearest2d(
                x, new long[] {x.size(2) * 2, x.size(3) * 2}, new DoubleOptional(SCALE), new DoubleOptional(SCALE)))) {
            return up.update(conv::forward).handOver();
        }
    }
}
