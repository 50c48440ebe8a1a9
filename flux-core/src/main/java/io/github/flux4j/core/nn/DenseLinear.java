package io.github.flux4j.core.nn;

import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/** A linear layer with a dense weight in the compute dtype: one {@code at::linear} per call. */
public final class DenseLinear implements LinearOp {
    private final Tensor weight;
    private final @Nullable Tensor bias;
    private final ScalarType dtype;
    private final long out;
    private final long in;
    private boolean closed;

    /**
     * Wraps the tensors and takes ownership of them: they are retained (so they survive the scope
     * they were made in) and freed by {@link #close()}. Do not close them yourself.
     *
     * @param weight {@code [out, in]} in the compute dtype, on the compute device
     * @param bias {@code [out]} in the same dtype and on the same device, or null
     * @throws IllegalArgumentException if the shapes or dtypes do not fit together
     */
    public DenseLinear(Tensor weight, @Nullable Tensor bias) {
        if (weight.dim() != 2) {
            throw new IllegalArgumentException("weight must be [out, in], got " + LinearChecks.shape(weight));
        }
        this.dtype = Torch.dtype(weight);
        this.out = weight.size(0);
        this.in = weight.size(1);
        if (bias != null) {
            if (bias.dim() != 1 || bias.size(0) != weight.size(0)) {
                throw new IllegalArgumentException("bias must be [" + weight.size(0) + "] for weight "
                        + LinearChecks.shape(weight) + ", got " + LinearChecks.shape(bias));
            }
            if (Torch.dtype(bias) != dtype) {
                throw new IllegalArgumentException(
                        "bias dtype " + Torch.dtype(bias) + " differs from weight dtype " + dtype);
            }
        }
        this.weight = Scopes.keep(weight);
        this.bias = bias == null ? null : Scopes.keep(bias);
    }

    @Override
    public Tensor forward(Tensor x) {
        return apply(x, false);
    }

    @Override
    public Tensor forwardGeluTanh(Tensor x) {
        return apply(x, true);
    }

    /** {@code x W^T + b}, then (if {@code gelu}) the tanh GELU. */
    private Tensor apply(Tensor x, boolean gelu) {
        checkOpen();
        LinearChecks.checkInput("DenseLinear", x, in, dtype);
        return Scopes.scoped(
                () -> gelu ? Functional.linearGeluTanh(x, weight, bias) : Functional.linear(x, weight, bias));
    }

    /** One GEMM per column group ({@link Functional#linearSplit}). */
    @Override
    public Tensor[] forwardSplit(Tensor x, long[] widths, boolean[] gelu) {
        checkOpen();
        LinearChecks.checkInput("DenseLinear", x, in, dtype);
        LinearChecks.checkSplit(widths, gelu, out);
        return Scopes.scopedAll(() -> Functional.linearSplit(x, weight, bias, widths, gelu));
    }

    /** One GEMM per part, added into one output ({@link Functional#linearJoined}). */
    @Override
    public Tensor forwardJoined(Tensor... parts) {
        checkOpen();
        LinearChecks.checkJoined("DenseLinear", parts, in, dtype);
        return Scopes.scoped(() -> Functional.linearJoined(parts, weight, bias));
    }

    /** The weight {@code [out, in]}; still owned by this layer (do not close it). */
    public Tensor weight() {
        checkOpen();
        return weight;
    }

    /** The bias {@code [out]} or null; still owned by this layer. */
    public @Nullable Tensor bias() {
        checkOpen();
        return bias;
    }

    @Override
    public long inFeatures() {
        return in;
    }

    @Override
    public long outFeatures() {
        return out;
    }

    /** Always null: the weight is dense. */
    @Override
    public @Nullable GgmlType quantType() {
        return null;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Scopes.release(weight);
            Scopes.release(bias);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("DenseLinear is closed");
        }
    }

    /** {@code weight}, then {@code bias} if present (block streaming re-points them). */
    @Override
    public void forEachParameter(BiConsumer<String, Tensor> visitor) {
        checkOpen();
        visitor.accept("weight", weight);
        if (bias != null) {
            visitor.accept("bias", bias);
        }
    }
}
