package io.github.flux4j.core.t5;

import io.github.flux4j.core.nn.DenseLinear;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.nn.QuantizedLinear;
import io.github.flux4j.core.quant.TorchDequantizer;
import io.github.flux4j.core.text.HfActivation;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.List;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * {@code layer.1.DenseReluDense}: T5's feed-forward, gated ({@code T5DenseGatedActDense}:
 * {@code wo(act(wi_0(x)) * wi_1(x))}, T5 v1.1) or plain ({@code T5DenseActDense}:
 * {@code wo(act(wi(x)))}).
 *
 * <p>With float16 compute, transformers keeps {@code wo} in float32 ({@code _keep_in_fp32_modules})
 * and casts its input up, so the block's output (and, after the residual add, the hidden state)
 * is float32. This class does the same: the product is cast to float32 and {@code wo} runs in
 * float32, its weight expanded exactly from the GGUF blocks, or widened from the float16 weight
 * the binder loaded (which equals the stored value unless that was not representable in float16).
 */
final class T5DenseActDense {
    private final @Nullable LinearOp wi; // wi   [dFf, dModel] (plain)
    private final @Nullable LinearOp wi0; // wi_0 [dFf, dModel] (gated: activation branch)
    private final @Nullable LinearOp wi1; // wi_1 [dFf, dModel] (gated: linear branch)
    private final LinearOp wo; // wo   [dModel, dFf]
    private final HfActivation act;
    private final boolean woInFloat32;

    T5DenseActDense(T5Config c, WeightPath w) {
        if (c.gatedAct()) {
            this.wi = null;
            this.wi0 = w.linear("wi_0", c.dFf(), c.dModel(), false);
            this.wi1 = w.linear("wi_1", c.dFf(), c.dModel(), false);
        } else {
            this.wi = w.linear("wi", c.dFf(), c.dModel(), false);
            this.wi0 = null;
            this.wi1 = null;
        }
        this.wo = w.linear("wo", c.dModel(), c.dFf(), false);
        this.act = c.denseActFn();
        this.woInFloat32 = w.dtype() == ComputeDtype.F16;
    }

    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        if (wi != null) {
            wi.forEachParameter((n, t) -> visitor.accept("wi." + n, t));
        }
        if (wi0 != null) {
            wi0.forEachParameter((n, t) -> visitor.accept("wi_0." + n, t));
        }
        if (wi1 != null) {
            wi1.forEachParameter((n, t) -> visitor.accept("wi_1." + n, t));
        }
        wo.forEachParameter((n, t) -> visitor.accept("wo." + n, t));
    }

    /** The projections in checkpoint order (for tests). */
    List<LinearOp> linears() {
        return wi != null ? List.of(wi, wo) : List.of(wi0, wi1, wo);
    }

    Tensor forward(Tensor x) {
        Tensor h;
        if (wi != null) {
            h = act.apply(wi.forward(x));
        } else if (wi0 != null && wi1 != null) { // gated: both are set by the constructor
            h = act.apply(wi0.forward(x)).mul(wi1.forward(x));
        } else {
            throw new IllegalStateException("T5 feed-forward without wi or wi_0/wi_1");
        }
        if (!woInFloat32) {
            return wo.forward(h);
        }
        return torch.linear(h.to(ScalarType.Float), woFloat32(), new TensorOptional());
    }

    private Tensor woFloat32() {
        if (wo instanceof QuantizedLinear ql) {
            return TorchDequantizer.dequantize(
                    ql.rawBlocks(),
                    ql.quantType(),
                    new long[] {ql.outFeatures(), ql.inFeatures()},
                    ScalarType.Float,
                    ql.arithmetic());
        }
        if (wo instanceof DenseLinear dl) {
            return dl.weight().to(ScalarType.Float);
        }
        throw new IllegalStateException("wo is a " + wo.getClass().getSimpleName() + "; cannot run it in float32");
    }
}
