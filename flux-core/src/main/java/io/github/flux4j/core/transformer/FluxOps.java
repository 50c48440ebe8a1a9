package io.github.flux4j.core.transformer;

import io.github.flux4j.core.cuda.CudaKernels;
import io.github.flux4j.core.nn.Functional;
import java.util.Optional;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The element-wise chains every FLUX block runs, each one {@link CudaKernels} launch on a CUDA
 * device (when the model allows kernels and NVRTC is there), else {@link FluxMath}'s LibTorch
 * operations, which stay the reference: the fused kernels round where those ops round, so the two
 * paths differ only by the float32 summation order inside the norms.
 */
final class FluxOps {
    private final boolean kernels;

    FluxOps(boolean kernels) {
        this.kernels = kernels;
    }

    private Optional<CudaKernels> kernelsFor(Tensor t) {
        return kernels && t.is_cuda() ? CudaKernels.forTensor(t) : Optional.empty();
    }

    /**
     * Whether a feed-forward input layer on {@code x}'s device may fuse its GELU into the GEMM
     * ({@link io.github.flux4j.core.nn.LinearOp#forwardGeluTanh}: cuBLASLt's epilogue unless
     * {@link CudaKernels#geluEpilogue} is off); the reference path runs the GEMM, then the GELU.
     */
    boolean fusesGelu(Tensor x) {
        return kernels && x.is_cuda();
    }

    /**
     * Whether a single block on {@code x}'s device runs its linears split (the fast path on CUDA,
     * {@link CudaKernels#splitSingleLinears}); the reference path keeps one GEMM each and the cat.
     */
    boolean splitsSingleLinears(Tensor x) {
        return kernels && x.is_cuda() && CudaKernels.splitSingleLinears();
    }

    /** {@code LN(x) * (1 + scale) + shift} for {@code x [B, S, D]}, shift/scale {@code [B, D]}. */
    Tensor modulatedLayerNorm(Tensor x, Tensor shift, Tensor scale) {
        Optional<CudaKernels> k = kernelsFor(x);
        if (k.isPresent()
                && CudaKernels.supportsWidth(x.size(-1), x.scalar_type())
                && shift.stride(1) == 1
                && scale.stride(1) == 1) {
            return k.get().layerNormModulate(x, shift, scale, FluxMath.EPS);
        }
        return FluxMath.modulate(Functional.layerNormNoAffine(x, FluxMath.EPS), shift, scale);
    }

    /** {@code x + gate * y} for {@code x, y [B, S, D]}, gate {@code [B, D]}. */
    Tensor gatedAdd(Tensor x, Tensor gate, Tensor y) {
        Optional<CudaKernels> k = kernelsFor(x);
        if (k.isPresent() && CudaKernels.supportsWidth(x.size(-1), x.scalar_type()) && gate.stride(1) == 1) {
            return k.get().gatedResidual(x, gate, y);
        }
        return x.add(FluxMath.gate(gate, y));
    }

    /**
     * The q (or k) of the joint sequence {@code [B, sum(S_i), H, D]}: each part {@code [B, S_i, H, D]}
     * RMS-normalised with its own scale, placed one after the other (text first), rotated by the
     * joint position's RoPE: one kernel per part, writing straight into the joint buffer.
     */
    Tensor normRopeJoint(Tensor[] parts, Tensor[] scales, EmbedNd.Rope pe) {
        Optional<CudaKernels> k = kernelsFor(parts[0]);
        long total = 0;
        for (Tensor p : parts) {
            total += p.size(1);
        }
        long headDim = parts[0].size(3);
        if (k.isPresent() && headDim % 2 == 0 && headDim <= 256) {
            Tensor first = parts[0];
            Tensor out = torch.empty(
                    new long[] {first.size(0), total, first.size(2), headDim},
                    new TensorOptions(first.scalar_type()).device(new DeviceOptional(first.device())),
                    null);
            long offset = 0;
            for (int i = 0; i < parts.length; i++) {
                Tensor p = parts[i];
                if (p.stride(3) != 1 || p.stride(2) != headDim || p.stride(0) != p.size(1) * p.stride(1)) {
                    p = p.contiguous();
                }
                k.get().rmsNormRope(p, scales[i], pe.cos(), pe.sin(), out, offset, FluxMath.EPS);
                offset += parts[i].size(1);
            }
            return out;
        }
        Tensor joint;
        if (parts.length == 1) {
            joint = Functional.rmsNorm(parts[0], scales[0], FluxMath.EPS);
        } else {
            TensorVector normed = new TensorVector();
            for (int i = 0; i < parts.length; i++) {
                normed.push_back(Functional.rmsNorm(parts[i], scales[i], FluxMath.EPS));
            }
            joint = torch.cat(normed, 1);
        }
        return FluxMath.applyRope(joint, pe.cos(), pe.sin());
    }
}
