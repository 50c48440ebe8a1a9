package io.github.flux4j.core.clip;

import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;

/** {@code text_model.encoder.layers.N}: a pre-LayerNorm transformer layer. */
final class ClipEncoderLayer {
    private final LayerNorm layerNorm1; // layer_norm1.{weight,bias} [hidden]
    private final ClipAttention selfAttn; // self_attn.{q,k,v,out}_proj
    private final LayerNorm layerNorm2; // layer_norm2.{weight,bias} [hidden]
    private final ClipMlp mlp; // mlp.fc1, mlp.fc2

    ClipEncoderLayer(ClipTextConfig c, WeightPath w) {
        this.selfAttn = new ClipAttention(c, w.at("self_attn"));
        this.layerNorm1 = new LayerNorm(w.at("layer_norm1"), c.hiddenSize(), c.layerNormEps());
        this.mlp = new ClipMlp(c, w.at("mlp"));
        this.layerNorm2 = new LayerNorm(w.at("layer_norm2"), c.hiddenSize(), c.layerNormEps());
    }

    Tensor forward(Tensor x) {
        Tensor h = x.add(selfAttn.forward(layerNorm1.forward(x)));
        return h.add(mlp.forward(layerNorm2.forward(h)));
    }
}
