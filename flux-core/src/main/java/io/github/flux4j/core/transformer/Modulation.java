package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * {@code lin(silu(vec))} split into groups of (shift, scale, gate): BFL's {@code Modulation}
 * ({@code double}: two groups, for attention and MLP; single: one). The chunk order is
 * diffusers' too ({@code AdaLayerNormZero}: shift_msa, scale_msa, gate_msa, shift_mlp,
 * scale_mlp, gate_mlp).
 */
final class Modulation {
    /** One group, each {@code [B, hidden]}. */
    record Out(Tensor shift, Tensor scale, Tensor gate) {}

    private final LinearOp lin; // lin [groups * 3 * hidden, hidden]
    private final int groups;

    Modulation(WeightPath w, long hidden, boolean isDouble) {
        this.groups = isDouble ? 2 : 1;
        this.lin = w.linear("lin", 3L * groups * hidden, hidden);
    }

    /**
     * The groups for {@code siluVec = silu(vec) [B, hidden]}: every block's modulation reads the
     * same {@code silu(vec)}, so the forward computes it once, not once per block.
     */
    Out[] forward(Tensor siluVec) {
        TensorVector c = lin.forward(siluVec).chunk(3L * groups, 1);
        Out[] out = new Out[groups];
        for (int g = 0; g < groups; g++) {
            out[g] = new Out(c.get(3L * g), c.get(3L * g + 1), c.get(3L * g + 2));
        }
        return out;
    }

    /** {@code lin.weight}, {@code lin.bias}. */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        lin.forEachParameter((n, t) -> visitor.accept("lin." + n, t));
    }
}
