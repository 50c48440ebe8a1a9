package io.github.flux4j.core.t5;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * {@code encoder.block.N}: self-attention ({@code layer.0}) then feed-forward ({@code layer.1}).
 * When the hidden state is float16 after a sub-layer, it is clamped as transformers does, to
 * {@code ±(65504 - 1000)} if it holds an infinity and to {@code ±65504} otherwise.
 */
final class T5Block {
    private static final double F16_MAX = 65504.0;

    private final T5LayerSelfAttention layer0; // layer.0
    private final T5LayerFF layer1; // layer.1

    T5Block(T5Config c, WeightPath w, boolean hasRelativeAttentionBias) {
        this.layer0 = new T5LayerSelfAttention(c, w.at("layer").at(0), hasRelativeAttentionBias);
        this.layer1 = new T5LayerFF(c, w.at("layer").at(1));
    }

    T5Attention selfAttention() {
        return layer0.selfAttention();
    }

    /** Every linear of the block: q, k, v, o, then the feed-forward's (for tests). */
    List<LinearOp> linears() {
        List<LinearOp> all = new ArrayList<>(layer0.selfAttention().linears());
        all.addAll(layer1.denseReluDense().linears());
        return all;
    }

    /** The block's weights, named below {@code encoder.block.N.} (block 0's relative attention bias excepted). */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        layer0.forEachBlockParameter((n, t) -> visitor.accept("layer.0." + n, t));
        layer1.forEachParameter((n, t) -> visitor.accept("layer.1." + n, t));
    }

    Tensor forward(Tensor h, Tensor positionBias) {
        h = clampFloat16(layer0.forward(h, positionBias));
        return clampFloat16(layer1.forward(h));
    }

    private static Tensor clampFloat16(Tensor h) {
        if (Torch.dtype(h) != ScalarType.Half) {
            return h;
        }
        double clamp = h.isinf().any().item_bool() ? F16_MAX - 1000 : F16_MAX;
        return h.clamp(new ScalarOptional(new Scalar(-clamp)), new ScalarOptional(new Scalar(clamp)));
    }
}
