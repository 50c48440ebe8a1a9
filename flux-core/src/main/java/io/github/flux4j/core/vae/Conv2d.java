package io.github.flux4j.core.vae;

import io.github.flux4j.core.nn.CpuConvolutions;
import io.github.flux4j.core.weights.binding.WeightPath;
import org.bytedeco.pytorch.Tensor;

/**
 * {@code nn.Conv2d(in, out, kernel, stride=1, padding=kernel // 2)} with a bias, as every VAE
 * decoder convolution is: one {@code at::conv2d} per call, except on CPU for the signatures that
 * LibTorch's oneDNN gets wrong on this machine ({@link CpuConvolutions}). The tensors belong to the
 * binding's {@link io.github.flux4j.core.weights.binding.LoadedWeights}.
 */
final class Conv2d {
    private final Tensor weight; // [out, in, k, k]
    private final Tensor bias; // [out]
    private final int padding;

    /** Binds {@code weight [out, in, k, k]} and {@code bias [out]} under {@code w}. */
    Conv2d(WeightPath w, long out, long in, int kernel) {
        this.weight = w.tensor("weight", out, in, kernel, kernel);
        this.bias = w.tensor("bias", out);
        this.padding = kernel / 2;
    }

    /** {@code [B, in, H, W] -> [B, out, H, W]}, in the caller's scope. */
    Tensor forward(Tensor x) {
        return CpuConvolutions.conv2d(x, weight, bias, padding);
    }
}
