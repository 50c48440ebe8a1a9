package io.github.flux4j.core.clip;

import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** {@code text_model.embeddings}: token embedding plus learned absolute position embedding. */
final class ClipTextEmbeddings {
    private final Tensor tokenEmbedding; // token_embedding.weight    [vocab, hidden]
    private final Tensor positionEmbedding; // position_embedding.weight [maxPositions, hidden]

    ClipTextEmbeddings(ClipTextConfig c, WeightPath w) {
        this.tokenEmbedding = w.tensor("token_embedding.weight", c.vocabSize(), c.hiddenSize());
        this.positionEmbedding = w.tensor("position_embedding.weight", c.maxPositionEmbeddings(), c.hiddenSize());
    }

    /** {@code ids [B, L]} (int64, on the weights' device) to {@code [B, L, hidden]}. */
    Tensor forward(Tensor ids) {
        TensorOptions longs = new TensorOptions(ScalarType.Long).device(new DeviceOptional(ids.device()));
        Tensor positions = torch.arange(new Scalar(ids.size(1)), longs).unsqueeze(0); // position_ids [1, L]
        return torch.embedding(tokenEmbedding, ids).add(torch.embedding(positionEmbedding, positions));
    }
}
