package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A single-stream block over the joint {@code [txt | img]} sequence, attention and MLP in
 * parallel (BFL {@code SingleStreamBlock}, diffusers {@code FluxSingleTransformerBlock}).
 *
 * <pre>
 * (shift, scale, gate) = modulation(vec);  xm = LN(x) * (1 + scale) + shift
 * q, k, v, mlp = linear1(xm)                    // one GEMM, split by columns
 * a = SDPA(rope(norm_q(q)), rope(norm_k(k)), v)
 * x = x + gate * linear2(cat(a, gelu_tanh(mlp)))   // the cat filled in place
 * </pre>
 *
 * <p>On the fast CUDA path linear1 runs as two GEMMs ({@code [q|k|v]}, and {@code mlp} with the
 * GELU in its epilogue) and linear2 as two GEMMs over {@code a} and {@code gelu(mlp)} added into
 * one output: the same dot products, without the GELU pass and the 5h-wide concatenation
 * ({@link io.github.flux4j.core.cuda.CudaKernels#splitSingleLinears}).
 */
final class SingleStreamBlock {
    private final LinearOp linear1; // linear1 [3h + mlp, h]: one GEMM; q, k, v, mlp are its column slices
    private final long hidden;
    private final long mlpHidden;
    private final LinearOp linear2; // linear2 [h, h + mlp]
    private final QkNorm norm; // norm.{query,key}_norm.scale [headDim]
    private final Modulation modulation; // modulation.lin [3h, h]
    private final long numHeads;
    private final boolean clipF16;
    private final FluxOps ops;

    SingleStreamBlock(FluxConfig c, WeightPath w) {
        long h = c.hiddenSize();
        long mlp = c.mlpHidden();
        this.linear1 = w.linear("linear1", 3 * h + mlp, h, true);
        this.hidden = h;
        this.mlpHidden = mlp;
        this.linear2 = w.linear("linear2", h, h + mlp);
        this.norm = new QkNorm(w.at("norm"), c.headDim());
        this.modulation = new Modulation(w.at("modulation"), h, false);
        this.numHeads = c.numHeads();
        this.clipF16 = w.dtype() == ComputeDtype.F16;
        this.ops = new FluxOps(w.expansion().kernels());
    }

    /** {@code x [B, Stxt + Simg, h]} to the same shape; {@code siluVec} is {@code silu(vec)}. */
    Tensor forward(Tensor x, Tensor siluVec, EmbedNd.Rope pe) {
        Modulation.Out mod = modulation.forward(siluVec)[0];
        if (ops.splitsSingleLinears(x)) {
            return finish(x, mod, linear2.forwardJoined(splitParts(x, mod, pe)));
        }
        // Everything but linear2's input is freed before linear2 runs (an inner scope): linear1's
        // 7h-wide output alone is 198 MB at 1024x1024, and with q, k and the attention output it
        // would otherwise sit beside linear2's expanded weight, the peak of the whole forward.
        Tensor joint = Scopes.scoped(() -> {
            Tensor xm = ops.modulatedLayerNorm(x, mod.shift(), mod.scale());
            Tensor y = linear1.forward(xm);
            // linear2's input [attn | gelu(mlp)] is filled in place rather than concatenated: GELU
            // writes its half directly and the attention output is copied into the other, which saves
            // a full read and write of the 5h-wide activations per block (same values as cat).
            Tensor in2 = torch.empty(new long[] {y.size(0), y.size(1), hidden + mlpHidden}, y.options(), null);
            Functional.geluTanhInto(in2.narrow(-1, hidden, mlpHidden), y.narrow(-1, 3 * hidden, mlpHidden));
            in2.narrow(-1, 0, hidden).copy_(attend(y, pe));
            return in2;
        });
        return finish(x, mod, linear2.forward(joint));
    }

    /**
     * The fast path's linear2 inputs {@code [attention, gelu(mlp)]}, never concatenated: linear1 as
     * two GEMMs (q, k, v; the feed-forward input with its GELU in the GEMM epilogue where cuBLASLt
     * has it), so neither the GELU pass over a 4h-wide slice nor the copy of the attention output into
     * a 5h-wide buffer is run. Freed on return: everything else (an inner scope, as above).
     */
    private Tensor[] splitParts(Tensor x, Modulation.Out mod, EmbedNd.Rope pe) {
        return Scopes.scopedAll(() -> {
            Tensor xm = ops.modulatedLayerNorm(x, mod.shift(), mod.scale());
            Tensor[] y = linear1.forwardSplit(xm, new long[] {3 * hidden, mlpHidden}, new boolean[] {false, true});
            return new Tensor[] {attend(y[0], pe), y[1]};
        });
    }

    /**
     * Attention over the joint sequence from {@code y}'s first 3h columns {@code [q | k | v]} (the
     * whole of the split path's qkv GEMM, or a slice of linear1's 7h-wide output): QK norm + RoPE,
     * then SDPA; {@code [B, S, h]}.
     */
    private Tensor attend(Tensor y, EmbedNd.Rope pe) {
        Tensor q = ops.normRopeJoint(
                new Tensor[] {y.narrow(-1, 0, hidden).unflatten(-1, numHeads, -1)},
                new Tensor[] {norm.queryScale()},
                pe);
        Tensor k = ops.normRopeJoint(
                new Tensor[] {y.narrow(-1, hidden, hidden).unflatten(-1, numHeads, -1)},
                new Tensor[] {norm.keyScale()},
                pe);
        Tensor v = y.narrow(-1, 2 * hidden, hidden).unflatten(-1, numHeads, -1);
        return FluxMath.attention(q, k, v);
    }

    /** {@code x + gate * out}, clipped to float16's range for float16 compute. */
    private Tensor finish(Tensor x, Modulation.Out mod, Tensor linear2Out) {
        Tensor out = ops.gatedAdd(x, mod.gate(), linear2Out);
        if (clipF16) {
            out = out.clamp(new ScalarOptional(new Scalar(-65504.0)), new ScalarOptional(new Scalar(65504.0)));
        }
        return out;
    }

    /** Every weight tensor of the block, named relative to {@code single_blocks.N} (block streaming). */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        linear1.forEachParameter((n, t) -> visitor.accept("linear1." + n, t));
        linear2.forEachParameter((n, t) -> visitor.accept("linear2." + n, t));
        norm.forEachParameter((n, t) -> visitor.accept("norm." + n, t));
        modulation.forEachParameter((n, t) -> visitor.accept("modulation." + n, t));
    }
}
