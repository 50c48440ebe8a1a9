package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * diffusers' {@code UpDecoderBlock2D}: {@code layers_per_block + 1} resnets (the first changes the
 * width), then {@code upsamplers.0} except in the last block.
 */
final class UpDecoderBlock2D {
    private final List<ResnetBlock2D> resnets; // resnets.0 [in -> out], resnets.1.. [out -> out]
    private final @Nullable Upsample2D upsamplers0; // upsamplers.0.conv [out, out, 3, 3]

    /** Binds {@code w.resnets.N} and, if {@code addUpsample}, {@code w.upsamplers.0}. */
    UpDecoderBlock2D(WeightPath w, long in, long out, int layers, boolean addUpsample, int groups) {
        List<ResnetBlock2D> list = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            list.add(new ResnetBlock2D(w.at("resnets").at(i), i == 0 ? in : out, out, groups));
        }
        this.resnets = List.copyOf(list);
        this.upsamplers0 = addUpsample ? new Upsample2D(w.at("upsamplers").at(0), out) : null;
    }

    /** {@code [B, in, H, W] -> [B, out, 2H, 2W]} (or {@code [B, out, H, W]} without upsampler), in the caller's scope. */
    Tensor forward(Tensor x) {
        try (TensorSlot h = TensorSlot.of(() -> resnets.get(0).forward(x))) {
            for (int i = 1; i < resnets.size(); i++) {
                h.update(resnets.get(i)::forward);
            }
            if (upsamplers0 != null) {
                h.update(upsamplers0::forward);
            }
            return h.handOver();
        }
    }
}
