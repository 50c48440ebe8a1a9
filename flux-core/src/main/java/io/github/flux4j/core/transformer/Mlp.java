package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;

/**
 * A double-stream block's feed-forward: BFL's {@code nn.Sequential(Linear, GELU(tanh), Linear)},
 * hence the checkpoint indices 0 and 2 (diffusers {@code ff.net.0.proj}, {@code ff.net.2}).
 */
final class Mlp {
    private final LinearOp layer0; // 0 [mlpHidden, hidden]
    private final LinearOp layer2; // 2 [hidden, mlpHidden]

    Mlp(FluxConfig c, WeightPath w) {
        this.layer0 = w.linear("0", c.mlpHidden(), c.hiddenSize());
        this.layer2 = w.linear("2", c.hiddenSize(), c.mlpHidden());
    }

    /** {@code layer2(gelu_tanh(layer0(x)))}; the GELU in the GEMM's epilogue only on the fast path. */
    Tensor forward(Tensor x, FluxOps ops) {
        Tensor h;
        if (ops.fusesGelu(x)) {
            h = layer0.forwardGeluTanh(x);
        } else {
            // the GELU in place (the same kernel and values as geluTanh, without a second 4h-wide
            // activation beside layer2's expanded weight)
            h = layer0.forward(x);
            Functional.geluTanhInto(h, h);
        }
        return layer2.forward(h);
    }

    /** {@code 0.*}, {@code 2.*}. */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        layer0.forEachParameter((n, t) -> visitor.accept("0." + n, t));
        layer2.forEachParameter((n, t) -> visitor.accept("2." + n, t));
    }
}
