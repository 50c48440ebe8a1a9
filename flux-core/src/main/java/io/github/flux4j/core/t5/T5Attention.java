package io.github.flux4j.core.t5;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.List;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * {@code layer.0.SelfAttention}: multi-head self-attention with T5's learned relative position
 * bias and <em>no</em> {@code 1/sqrt(d)} scaling. Computed as transformers' default ("sdpa") path:
 * one {@code scaled_dot_product_attention} with the bias as additive mask and scale 1.
 */
final class T5Attention {
    private final LinearOp q; // q [inner, dModel]
    private final LinearOp k; // k [inner, dModel]
    private final LinearOp v; // v [inner, dModel]
    private final LinearOp o; // o [dModel, inner]
    private final @Nullable Tensor
            relativeAttentionBias; // relative_attention_bias.weight [buckets, heads] (block 0 only)
    private final T5Config config;

    T5Attention(T5Config c, WeightPath w, boolean hasRelativeAttentionBias) {
        long inner = c.innerDim();
        this.q = w.linear("q", inner, c.dModel(), false);
        this.k = w.linear("k", inner, c.dModel(), false);
        this.v = w.linear("v", inner, c.dModel(), false);
        this.o = w.linear("o", c.dModel(), inner, false);
        this.relativeAttentionBias = hasRelativeAttentionBias
                ? w.tensor("relative_attention_bias.weight", c.relativeAttentionNumBuckets(), c.numHeads())
                : null;
        this.config = c;
    }

    /**
     * q, k, v and o's tensors (not the relative attention bias: the model computes the position
     * bias from it before the first block runs, so it stays with the model when blocks stream).
     */
    void forEachBlockParameter(BiConsumer<String, Tensor> visitor) {
        q.forEachParameter((n, t) -> visitor.accept("q." + n, t));
        k.forEachParameter((n, t) -> visitor.accept("k." + n, t));
        v.forEachParameter((n, t) -> visitor.accept("v." + n, t));
        o.forEachParameter((n, t) -> visitor.accept("o." + n, t));
    }

    /** q, k, v, o (for tests). */
    List<LinearOp> linears() {
        return List.of(q, k, v, o);
    }

    /**
     * transformers' {@code compute_bias}: {@code [1, heads, qLen, kLen]} in the compute dtype,
     * on {@code device}.
     */
    Tensor computeBias(long queryLength, long keyLength, Device device) {
        if (relativeAttentionBias == null) {
            throw new IllegalStateException("only the first block has a relative attention bias");
        }
        TensorOptions longs = new TensorOptions(ScalarType.Long).device(new DeviceOptional(device));
        Tensor context = torch.arange(new Scalar(queryLength), longs).unsqueeze(1); // [q, 1]
        Tensor memory = torch.arange(new Scalar(keyLength), longs).unsqueeze(0); // [1, k]
        Tensor bucket = relativePositionBucket(
                memory.sub(context), true, config.relativeAttentionNumBuckets(), config.relativeAttentionMaxDistance());
        return torch.embedding(relativeAttentionBias, bucket).permute(2, 0, 1).unsqueeze(0);
    }

    /**
     * transformers' {@code T5Attention._relative_position_bucket}, op for op: half the buckets
     * (per direction when bidirectional) for exact distances, the other half logarithmically
     * wider up to {@code maxDistance}, beyond which all distances share the last bucket.
     *
     * @param relativePosition int64 {@code memory_position - query_position}
     * @return int64 buckets in {@code [0, numBuckets)}, same shape
     */
    static Tensor relativePositionBucket(
            Tensor relativePosition, boolean bidirectional, int numBuckets, int maxDistance) {
        Tensor buckets = torch.zeros_like(relativePosition);
        Tensor rel = relativePosition;
        int n = numBuckets;
        if (bidirectional) {
            n /= 2;
            buckets = buckets.add(rel.gt(new Scalar(0)).to(ScalarType.Long).mul(new Scalar(n)));
            rel = rel.abs();
        } else {
            rel = torch.minimum(rel, torch.zeros_like(rel)).neg();
        }
        int maxExact = n / 2;
        Tensor isSmall = rel.lt(new Scalar(maxExact));
        // max_exact + (log(rel.float() / max_exact) / math.log(max_distance / max_exact) * (n - max_exact)).long()
        Tensor large = rel.to(ScalarType.Float)
                .div(new Scalar(maxExact))
                .log()
                .div(new Scalar(Math.log((double) maxDistance / maxExact)))
                .mul(new Scalar(n - maxExact))
                .to(ScalarType.Long)
                .add(new Scalar(maxExact));
        large = torch.minimum(large, torch.full_like(large, new Scalar(n - 1)));
        return buckets.add(torch.where(isSmall, rel, large));
    }

    /** {@code x [B, L, dModel]} with {@code positionBias [1 or B, heads, L, L]} to {@code [B, L, dModel]}. */
    Tensor forward(Tensor x, Tensor positionBias) {
        long heads = config.numHeads();
        long dKv = config.dKv();
        Tensor qs = q.forward(x).unflatten(-1, heads, dKv).transpose(1, 2);
        Tensor ks = k.forward(x).unflatten(-1, heads, dKv).transpose(1, 2);
        Tensor vs = v.forward(x).unflatten(-1, heads, dKv).transpose(1, 2);
        Tensor a = torch.scaled_dot_product_attention(
                qs, ks, vs, new TensorOptional(positionBias), 0.0, false, new DoubleOptional(1.0), false);
        return o.forward(a.transpose(1, 2).reshape(x.size(0), x.size(1), -1));
    }
}
