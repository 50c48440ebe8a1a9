package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.CancellationPoints;
import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.torch.TensorTrace;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * diffusers' VAE {@code Decoder} (norm_type "group"): {@code conv_in}, {@code mid_block}, the
 * {@code up_blocks} from the widest to the narrowest, {@code conv_norm_out} (GroupNorm, eps 1e-6),
 * SiLU, {@code conv_out}.
 */
final class Decoder {
    final Conv2d convIn; // conv_in [C_mid, latent, 3, 3]
    final UNetMidBlock2D midBlock; // mid_block
    final List<UpDecoderBlock2D> upBlocks; // up_blocks.0 (widest, lowest resolution) .. up_blocks.(n-1)
    private final GroupNorm convNormOut; // conv_norm_out [C_0]
    private final Conv2d convOut; // conv_out [out_channels, C_0, 3, 3]

    /** Binds everything under {@code w} ({@code decoder.}). */
    Decoder(WeightPath w, VaeConfig config) {
        List<Integer> widths = config.blockOutChannels();
        int levels = config.levels();
        int groups = config.normNumGroups();
        this.convIn = new Conv2d(w.at("conv_in"), config.midChannels(), config.latentChannels(), 3);
        this.midBlock = new UNetMidBlock2D(w.at("mid_block"), config);
        List<UpDecoderBlock2D> ups = new ArrayList<>();
        long prev = config.midChannels();
        for (int i = 0; i < levels; i++) {
            long out = widths.get(levels - 1 - i); // reversed(block_out_channels)[i]
            ups.add(new UpDecoderBlock2D(
                    w.at("up_blocks").at(i), prev, out, config.layersPerBlock() + 1, i != levels - 1, groups));
            prev = out;
        }
        this.upBlocks = List.copyOf(ups);
        this.convNormOut = new GroupNorm(w.at("conv_norm_out"), widths.get(0), groups);
        this.convOut = new Conv2d(w.at("conv_out"), config.outChannels(), widths.get(0), 3);
    }

    /**
     * {@code [B, latent, h, w] -> [B, out_channels, 8h, 8w]} (for four levels), in the caller's
     * scope; {@code trace} receives {@code conv_in}, {@code mid_block}, {@code up_blocks.i},
     * {@code conv_norm_out}, {@code conv_act} and {@code conv_out}.
     */
    Tensor forward(Tensor z, TensorTrace trace) {
        CancellationPoints.reached("the VAE decoder");
        try (TensorSlot h = TensorSlot.of(() -> convIn.forward(z))) {
            trace.record("conv_in", h.get());
            // Cancellation points between the stages (each takes seconds at 1024x1024 on a CPU); the
            // check runs inside update, which frees the previous activation whatever happens.
            h.update(x -> {
                CancellationPoints.reached("the VAE mid block");
                return midBlock.forward(x);
            });
            trace.record("mid_block", h.get());
            for (int i = 0; i < upBlocks.size(); i++) {
                UpDecoderBlock2D up = upBlocks.get(i);
                int index = i;
                h.update(x -> {
                    CancellationPoints.reached("VAE up block", index, upBlocks.size());
                    return up.forward(x);
                });
                trace.record("up_blocks." + i, h.get());
            }
            h.update(convNormOut::forward);
            trace.record("conv_norm_out", h.get());
            h.update(torch::silu);
            trace.record("conv_act", h.get());
            h.update(convOut::forward);
            trace.record("conv_out", h.get());
            return h.handOver();
        }
    }
}
