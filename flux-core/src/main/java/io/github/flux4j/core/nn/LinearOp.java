package io.github.flux4j.core.nn;

import io.github.flux4j.gguf.GgmlType;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.jspecify.annotations.Nullable;

/**
 * A linear layer {@code y = x W^T + b}, whatever form its weight is stored in (dense in the compute
 * dtype, or GGML blocks expanded on each call). Blocks depend on this interface only, so one block
 * class serves both full-precision and quantized checkpoints.
 *
 * <p>Implementations own their weights: {@link #close()} frees them, after which the layer must not
 * be used.
 */
public interface LinearOp extends AutoCloseable {
    /**
     * Applies the layer.
     *
     * @param x {@code [..., inFeatures]} in the layer's compute dtype, on its device
     * @return {@code [..., outFeatures]} in the same dtype, owned by the caller's enclosing
     *     PointerScope (or by the caller when none is open); every temporary is already freed
     * @throws IllegalArgumentException if {@code x}'s last dimension or dtype does not fit
     */
    Tensor forward(Tensor x);

    /**
     * {@code gelu_tanh(forward(x))}, FLUX's feed-forward input layer. Implementations whose weight
     * is a dense tensor at call time run it as {@link Functional#linearGeluTanh} (which may fuse
     * the GELU into the GEMM on CUDA); this default applies the GELU in place after
     * {@link #forward}, so a wrapper (a LoRA side branch) keeps the activation after its sum.
     */
    default Tensor forwardGeluTanh(Tensor x) {
        Tensor h = forward(x);
        Functional.geluTanhInto(h, h);
        return h;
    }

    /**
     * {@code forward(x)} cut into column groups of the given widths (which add up to
     * {@link #outFeatures()}), group {@code i} through the tanh GELU where {@code gelu[i]}: FLUX's
     * single block, whose one input linear yields q, k, v and the feed-forward input. Implementations
     * whose weight is dense at call time run one GEMM per group over the matching rows of W
     * ({@link Functional#linearSplit}: each group its own contiguous tensor, a GELU group through
     * {@link Functional#linearGeluTanh}); this default slices one {@link #forward} and applies the
     * GELU in place, so a wrapper (a LoRA side branch) keeps the activation after its sum.
     *
     * @return one tensor {@code [..., widths[i]]} per group (in this default, views of one tensor:
     *     each keeps the whole output alive)
     * @throws IllegalArgumentException if the widths do not add up or the arrays differ in length
     */
    default Tensor[] forwardSplit(Tensor x, long[] widths, boolean[] gelu) {
        LinearChecks.checkSplit(widths, gelu, outFeatures());
        Tensor h = forward(x);
        Tensor[] out = new Tensor[widths.length];
        long offset = 0;
        for (int i = 0; i < widths.length; i++) {
            out[i] = h.narrow(-1, offset, widths[i]);
            if (gelu[i]) {
                Functional.geluTanhInto(out[i], out[i]);
            }
            offset += widths[i];
        }
        return out;
    }

    /**
     * {@code forward(cat(parts, -1))}: FLUX's single-block output linear over
     * {@code [attention | gelu(mlp)]}. Implementations whose weight is dense at call time run one
     * GEMM per part over the matching columns of W, each adding into the one output
     * ({@link Functional#linearJoined}), so the concatenation is never written; this default
     * concatenates and calls {@link #forward}.
     *
     * @param parts {@code [..., k_i]} with the same leading dimensions, {@code sum k_i == inFeatures()}
     * @throws IllegalArgumentException if the parts do not fit the weight
     */
    default Tensor forwardJoined(Tensor... parts) {
        LinearChecks.checkJoined(parts, inFeatures());
        return forward(torch.cat(new TensorVector(parts), -1));
    }

    /** Input features (the weight's second dimension). */
    long inFeatures();

    /** Output features (the weight's first dimension). */
    long outFeatures();

    /** The GGML type the weight is kept in, or null for a dense weight in the compute dtype. */
    @Nullable
    GgmlType quantType();

    /** Frees the weights. Idempotent. */
    @Override
    void close();

    /**
     * Hands every weight tensor of this layer to {@code visitor} with its checkpoint-relative name
     * ({@code "weight"}, {@code "bias"}), in a fixed order. Block streaming uses it to re-point
     * the tensors at other storage between uses; the tensors stay owned by the layer.
     *
     * @throws UnsupportedOperationException if this implementation cannot list its tensors
     */
    default void forEachParameter(BiConsumer<String, Tensor> visitor) {
        throw new UnsupportedOperationException(getClass().getName() + " does not list its parameters");
    }
}
