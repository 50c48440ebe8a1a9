package io.github.flux4j.core.transformer;

import io.github.flux4j.core.torch.Tensors;
import java.util.List;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Rotary position embedding over N position axes (BFL {@code EmbedNd}, diffusers
 * {@code FluxPosEmbed}). FLUX uses three axes of widths 16, 56, 56 over ids
 * {@code (0, row, col)}; text tokens have all-zero ids and are not rotated.
 *
 * <p>As in diffusers (off MPS/NPU): per axis of width {@code d}, {@code freq_j = 1 / theta^(2j/d)}
 * and {@code angle = outer(pos, freq)} in float64; cos and sin are repeat-interleaved x2 (pairs
 * {@code (2i, 2i+1)} share a frequency), cast to float32 and concatenated over the axes.
 */
final class EmbedNd {
    private final List<Integer> axesDim;
    private final int theta;

    EmbedNd(FluxConfig config) {
        this.axesDim = config.axesDim();
        this.theta = config.theta();
    }

    /** The cos and sin tables, float32 {@code [S, headDim]} each. */
    record Rope(Tensor cos, Tensor sin) {}

    /** Tables for {@code ids [S, axes]} (any floating or integer dtype; read as float32 first, as diffusers' {@code ids.float()}). */
    Rope forward(Tensor ids) {
        if (ids.dim() != 2 || ids.size(1) != axesDim.size()) {
            throw new IllegalArgumentException("position ids must be [S, " + axesDim.size() + "], got "
                    + java.util.Arrays.toString(Tensors.shape(ids)));
        }
        Tensor pos = ids.to(ScalarType.Float);
        TensorOptions f64 = new TensorOptions(ScalarType.Double).device(new DeviceOptional(ids.device()));
        TensorVector cos = new TensorVector();
        TensorVector sin = new TensorVector();
        for (int i = 0; i < axesDim.size(); i++) {
            int d = axesDim.get(i);
            // 1.0 / (theta ** (arange(0, d, 2, float64)[: d // 2] / d)); Python's 1.0 / t is t.reciprocal() * 1.0
            Tensor exponent = torch.arange(new Scalar(0L), new Scalar((long) d), new Scalar(2L), f64)
                    .narrow(0, 0, d / 2)
                    .div(new Scalar((long) d));
            Tensor freqs = torch.pow(new Scalar((double) theta), exponent).reciprocal();
            Tensor angles = torch.outer(pos.select(1, i), freqs);
            cos.push_back(angles.cos()
                    .repeat_interleave(
                            2L, new org.bytedeco.pytorch.LongOptional(1L), new org.bytedeco.pytorch.LongOptional())
                    .to(ScalarType.Float));
            sin.push_back(angles.sin()
                    .repeat_interleave(
                            2L, new org.bytedeco.pytorch.LongOptional(1L), new org.bytedeco.pytorch.LongOptional())
                    .to(ScalarType.Float));
        }
        return new Rope(torch.cat(cos, -1), torch.cat(sin, -1));
    }
}
