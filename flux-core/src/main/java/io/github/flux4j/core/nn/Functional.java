package io.github.flux4j.core.nn;

import io.github.flux4j.core.cuda.CublasLt;
import io.github.flux4j.core.cuda.CudaKernels;
import java.util.Optional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.jspecify.annotations.Nullable;

/**
 * The generic stateless operations of every network (norms, activations, attention), in one
 * place: each the single ATen op that the PyTorch module diffusers uses calls, so that LibTorch
 * (same version) runs the same kernel with the same rounding. The transformer's FLUX-specific math
 * (modulation, timestep embedding, RoPE) builds on these. Results and helper objects belong to the
 * caller's enclosing PointerScope (these run per block, so they open no scope of their own).
 */
public final class Functional {
    private Functional() {}

    /**
     * {@code nn.LayerNorm(D, elementwise_affine=False, eps)} over the last dimension:
     * {@code at::layer_norm(x, [D], None, None, eps)}. For bf16/f16 input the statistics are
     * computed in float32 and the output has the input's dtype.
     */
    public static Tensor layerNormNoAffine(Tensor x, double eps) {
        return torch.layer_norm(x, new long[] {x.size(-1)}, new TensorOptional(), new TensorOptional(), eps, true);
    }

    /**
     * {@code torch.nn.RMSNorm(D, eps)} with a learned scale, which is what FLUX's q/k norms are in
     * diffusers (not diffusers' own {@code RMSNorm} class): {@code at::rms_norm(x, [D], scale, eps)}.
     * ATen upcasts a bf16/f16 input to float32, multiplies by the float32-promoted scale and rounds
     * to the input dtype <em>once</em> (not "round, then scale").
     *
     * @param x {@code [..., D]}
     * @param scale {@code [D]}, normally in {@code x}'s dtype (diffusers casts it to bf16 at load)
     */
    public static Tensor rmsNorm(Tensor x, Tensor scale, double eps) {
        if (scale.dim() != 1 || scale.size(0) != x.size(-1)) {
            throw new IllegalArgumentException(
                    "rmsNorm: scale must be [" + x.size(-1) + "], got " + LinearChecks.shape(scale));
        }
        return torch.rms_norm(x, new long[] {x.size(-1)}, new TensorOptional(scale), new DoubleOptional(eps));
    }

    /** {@code F.gelu(x, approximate="tanh")}, FLUX's feed-forward activation. */
    public static Tensor geluTanh(Tensor x) {
        return torch.gelu(x, "tanh");
    }

    /**
     * {@link #geluTanh} written into {@code out} ({@code torch.gelu(x, approximate="tanh", out=out)}):
     * the same kernel and values, no new tensor; {@code out} may be a view (a slice of a larger
     * buffer) of {@code x}'s shape and dtype. Returns nothing on purpose: ATen's {@code gelu_out}
     * returns a reference to {@code out}, and its Java wrapper would not own a tensor of its own
     * (a scope that frees {@code out} would leave it dangling).
     */
    public static void geluTanhInto(Tensor out, Tensor x) {
        torch.gelu_out(out, x, "tanh");
    }

    /**
     * {@code x W^T + b}: {@code at::linear}, or on CUDA for 16-bit inputs of at least
     * {@link CublasLt#MIN_ROWS} rows one cuBLASLt GEMM with the bias in its epilogue
     * ({@link CublasLt}, where {@link CublasLt#enabled}): the same arithmetic (float32
     * accumulation, one rounding), possibly another algorithm and so another summation order.
     *
     * @param x {@code [..., in]}; {@code w} {@code [out, in]} (rows may be strided); {@code b} {@code [out]} or null
     */
    public static Tensor linear(Tensor x, Tensor w, @Nullable Tensor b) {
        Tensor y = ltLinear(x, w, b, false);
        return y != null ? y : torch.linear(x, w, optional(b));
    }

    /** {@link CublasLt#linear} over {@code x} as a matrix, reshaped back; null where that path does not run. */
    private static @Nullable Tensor ltLinear(Tensor x, Tensor w, @Nullable Tensor b, boolean gelu) {
        if (!x.is_cuda() || x.dim() < 2 || !CublasLt.enabled()) {
            return null;
        }
        Tensor x2 = x.reshape(-1, x.size(-1));
        Optional<CublasLt> lt = CublasLt.forGemm(x2, w);
        Tensor y = lt.isPresent() ? lt.get().linear(x2, w, b, gelu) : null;
        return y == null ? null : y.view(outShape(x, w.size(0)));
    }

    private static long[] outShape(Tensor x, long out) {
        long[] shape = x.sizes().vec().get();
        shape[shape.length - 1] = out;
        return shape;
    }

    /**
     * {@code gelu_tanh(x W^T + b)}, FLUX's feed-forward input layer: {@code at::linear} then the
     * GELU in place (the values of {@link #geluTanh}, without a second activation tensor), or, on
     * CUDA with a bias (unless {@code -Dflux4j.cuda.geluEpilogue=false}, {@link CudaKernels#geluEpilogue}),
     * one GEMM with cuBLASLt's GELU-bias epilogue (through {@link CublasLt}, else
     * {@code at::_addmm_activation}, which asks cuBLASLt for the same epilogue), computed on the
     * float32 accumulator before the one rounding instead of on the rounded GEMM output (the two
     * are within bf16 rounding of each other).
     *
     * @param x {@code [..., in]}; {@code w} {@code [out, in]}; {@code b} {@code [out]} or null
     */
    public static Tensor linearGeluTanh(Tensor x, Tensor w, @Nullable Tensor b) {
        if (b != null && x.is_cuda() && x.dim() >= 2 && CudaKernels.geluEpilogue()) {
            Tensor lt = ltLinear(x, w, b, true);
            if (lt != null) {
                return lt;
            }
            Tensor x2 = x.reshape(-1, x.size(-1));
            Tensor y = b._addmm_activation(x2, w.t(), new Scalar(1L), new Scalar(1L), true);
            return y.view(outShape(x, w.size(0)));
        }
        Tensor h = torch.linear(x, w, optional(b));
        geluTanhInto(h, h);
        return h;
    }

    /**
     * {@code x W^T + b} cut into column groups (see {@link LinearOp#forwardSplit}): one GEMM per group
     * over rows {@code [o_i, o_i + widths[i])} of W ({@link #linear}), a GELU group through
     * {@link #linearGeluTanh}. The same dot products as one GEMM; each group is a contiguous tensor.
     */
    public static Tensor[] linearSplit(Tensor x, Tensor w, @Nullable Tensor b, long[] widths, boolean[] gelu) {
        Tensor[] out = new Tensor[widths.length];
        long offset = 0;
        for (int i = 0; i < widths.length; i++) {
            Tensor wi = w.narrow(0, offset, widths[i]);
            Tensor bi = b == null ? null : b.narrow(0, offset, widths[i]);
            out[i] = gelu[i] ? linearGeluTanh(x, wi, bi) : linear(x, wi, bi);
            offset += widths[i];
        }
        return out;
    }

    /**
     * {@code cat(parts, -1) W^T + b} without the concatenation (see {@link LinearOp#forwardJoined}):
     * the first part's GEMM over columns {@code [0, k_0)} of W with the bias, then each further
     * part's GEMM added into the same output in place (beta = 1: {@link CublasLt#addLinear} where
     * {@link #linear} took cuBLASLt, else {@code addmm_}). The column slices of W are strided views
     * (leading dimension {@code in}): nothing is copied. Each partial sum is rounded to the output
     * dtype before the next is added, one rounding per part more than one GEMM over the
     * concatenation (within the output dtype's rounding).
     */
    public static Tensor linearJoined(Tensor[] parts, Tensor w, @Nullable Tensor b) {
        long k0 = parts[0].size(-1);
        Tensor first = parts[0].reshape(-1, k0);
        Tensor acc = linear(first, w.narrow(1, 0, k0), b);
        long offset = k0;
        for (int i = 1; i < parts.length; i++) {
            long k = parts[i].size(-1);
            Tensor xi = parts[i].reshape(-1, k);
            Tensor wi = w.narrow(1, offset, k);
            Optional<CublasLt> lt = CublasLt.forGemm(xi, wi);
            if (lt.isEmpty() || !lt.get().addLinear(acc, xi, wi)) {
                acc.addmm_(xi, wi.t());
            }
            offset += k;
        }
        return acc.view(outShape(parts[0], w.size(0)));
    }

    private static TensorOptional optional(@Nullable Tensor t) {
        return t == null ? new TensorOptional() : new TensorOptional(t);
    }

    /** {@code F.silu(x)}, applied before every modulation linear. */
    public static Tensor silu(Tensor x) {
        return torch.silu(x);
    }

    /**
     * {@code F.scaled_dot_product_attention(q, k, v)}: no mask, no dropout, scale
     * {@code 1/sqrt(headDim)}. Which kernel runs depends on the backend settings (see
     * {@link io.github.flux4j.core.torch.Torch#preferCudnnAttention}).
     *
     * @param q {@code [B, H, Lq, D]}
     * @param k {@code [B, H, Lk, D]}
     * @param v {@code [B, H, Lk, Dv]}
     * @return {@code [B, H, Lq, Dv]}
     */
    public static Tensor sdpa(Tensor q, Tensor k, Tensor v) {
        return torch.scaled_dot_product_attention(q, k, v);
    }
}
