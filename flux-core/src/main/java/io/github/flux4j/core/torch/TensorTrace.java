package io.github.flux4j.core.torch;

import org.bytedeco.pytorch.Tensor;

/**
 * Receives the named intermediate tensors of a model's forward, stage by stage, for debugging and
 * for comparing each stage with the Python reference (the names are those of the diffusers or
 * transformers modules whose outputs they equal, so that forward hooks there give the reference
 * values). The CLIP and T5 text encoders and the VAE decoder take one; each documents its names.
 *
 * <p>{@link #record} is called on the forward's thread as each stage finishes, so the time
 * between calls is the stage's time ({@link StageTimings} measures it). The tensor belongs to the
 * forward and is valid only during the call: copy what you need inside {@code record} (for
 * example {@link Tensors#toFloats(Tensor)}, or {@code clone()} then {@link Scopes#keep}).
 */
@FunctionalInterface
public interface TensorTrace {
    /** Ignores everything. */
    TensorTrace NONE = (name, value) -> {};

    /** One named intermediate. */
    void record(String name, Tensor value);

    /** This trace, with every name prefixed by {@code prefix} (e.g. {@code "clip."}). */
    default TensorTrace prefixed(String prefix) {
        if (this == NONE) {
            return NONE;
        }
        return (name, value) -> record(prefix + name, value);
    }
}
