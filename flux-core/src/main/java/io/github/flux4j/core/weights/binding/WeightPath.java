package io.github.flux4j.core.weights.binding;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import java.util.Optional;
import org.bytedeco.pytorch.Tensor;

/**
 * A position in the weight-name tree, handed to model constructors by {@link WeightBinder}.
 * Segments are joined with dots, so the calls spell out the checkpoint names:
 *
 * <pre>{@code
 * WeightPath attn = w.at("double_blocks").at(i).at("img_attn");
 * LinearOp qkv = attn.linear("qkv", 3 * hidden, hidden);          // qkv.weight [3h, h], qkv.bias [3h]
 * Tensor q = attn.at("norm").tensor("query_norm.scale", headDim);  // [128]
 * }</pre>
 *
 * <p>Each tensor may be bound once. A missing or mis-shaped tensor is not an immediate error:
 * the binder's check run collects all of them and reports them together, naming each by its full
 * path. Loaded weights belong to {@link #weights()}, which the model must close.
 */
public final class WeightPath {
    private final WeightBinder binder;
    private final String prefix;

    WeightPath(WeightBinder binder, String prefix) {
        this.binder = binder;
        this.prefix = prefix;
    }

    /** The child path {@code segment} (which may itself contain dots, as in {@code "adaLN_modulation.1"}). */
    public WeightPath at(String segment) {
        if (segment.isEmpty() || segment.startsWith(".") || segment.endsWith(".")) {
            throw new IllegalArgumentException("bad path segment '" + segment + "' under '" + prefix + "'");
        }
        return new WeightPath(binder, prefix + segment + ".");
    }

    /** The child path of a list index ({@code double_blocks.3}, {@code img_mlp.0}). */
    public WeightPath at(int index) {
        if (index < 0) {
            throw new IllegalArgumentException("negative index " + index + " under '" + prefix + "'");
        }
        return at(Integer.toString(index));
    }

    /** The full name of {@code leaf} under this path. */
    public String name(String leaf) {
        return prefix + leaf;
    }

    /** True if the source has a tensor {@code leaf} under this path (for optional parts; binds nothing). */
    public boolean has(String leaf) {
        return binder.find(name(leaf)).isPresent();
    }

    /** The source's tensor {@code leaf} under this path, if any (binds nothing). */
    public Optional<WeightInfo> info(String leaf) {
        return binder.find(name(leaf));
    }

    /** Binds the linear layer {@code name}: {@code name.weight [out, in]} and {@code name.bias [out]}. */
    public LinearOp linear(String name, long out, long in) {
        return linear(name, out, in, true);
    }

    /** Binds the linear layer {@code name}: {@code name.weight [out, in]} and, if {@code bias}, {@code name.bias [out]}. */
    public LinearOp linear(String name, long out, long in, boolean bias) {
        return binder.linear(name(name), out, in, bias);
    }

    /**
     * Binds the plain tensor {@code name} of exactly {@code shape}, loaded onto the device in the
     * compute dtype.
     */
    public Tensor tensor(String name, long... shape) {
        return binder.tensor(name(name), shape.clone());
    }

    /** The model's policy for expanding quantized weights (and whether CUDA kernels may be used). */
    public io.github.flux4j.core.nn.WeightExpansion expansion() {
        return binder.expansion();
    }

    /** The native weights this binding has loaded so far; the model keeps this and closes it. */
    public LoadedWeights weights() {
        return binder.loaded();
    }

    /** True during the binder's check run, when weights are placeholders. */
    public boolean checking() {
        return binder.checking();
    }

    /** The device weights are loaded onto. */
    public FluxDevice device() {
        return binder.device();
    }

    /** The compute dtype. */
    public ComputeDtype dtype() {
        return binder.dtype();
    }

    /** The source being bound. */
    public WeightSource source() {
        return binder.source();
    }

    @Override
    public String toString() {
        return prefix.isEmpty() ? "(root)" : prefix.substring(0, prefix.length() - 1);
    }
}
