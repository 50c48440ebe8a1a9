package io.github.flux4j.core.clip;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.text.HfActivation;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;

/** {@code mlp}: {@code fc2(act(fc1(x)))}. */
final class ClipMlp {
    private final LinearOp fc1; // fc1 [intermediate, hidden] + bias
    private final LinearOp fc2; // fc2 [hidden, intermediate] + bias
    private final HfActivation act;

    ClipMlp(ClipTextConfig c, WeightPath w) {
        this.fc1 = w.linear("fc1", c.intermediateSize(), c.hiddenSize());
        this.fc2 = w.linear("fc2", c.hiddenSize(), c.intermediateSize());
        this.act = c.hiddenAct();
    }

    Tensor forward(Tensor x) {
        return fc2.forward(act.apply(fc1.forward(x)));
    }
}
