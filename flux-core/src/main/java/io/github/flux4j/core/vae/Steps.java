package io.github.flux4j.core.vae;

import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Chains large activations so that each is freed as soon as the next exists. At 1024x1024 one
 * decoder activation is 256 MiB (128 channels, bf16); keeping every block's output until the end
 * of the decode, as one enclosing PointerScope would, multiplies the peak memory. Python frees
 * them as soon as the name is rebound; this does the same.
 */
final class Steps {
    private Steps() {
    }

    /**
     * Runs {@code body} in its own scope, frees its temporaries, and returns the result owned by
     * the caller alone (in no scope): the caller must {@code close()} it or pass it to
     * {@link #handOver}.
     */
    static Tensor owned(Supplier<Tensor> body) {
        try (PointerScope scope = new PointerScope()) {
            return body.get().retainReference();
        }
    }

    /** {@code f(prev)} as an owned tensor; {@code prev} (owned) is closed whatever happens. */
    static Tensor replace(Tensor prev, UnaryOperator<Tensor> f) {
        try {
            return owned(() -> f.apply(prev));
        } finally {
            prev.close();
        }
    }

    /**
     * Gives an owned tensor to the caller's innermost scope (or leaves it to the caller when
     * there is none), as {@link io.github.flux4j.core.torch.Scopes#scoped} results are.
     */
    static Tensor handOver(Tensor owned) {
        PointerScope outer = PointerScope.getInnerScope();
        if (outer != null) {
            outer.attach(owned);
            owned.releaseReference();
        }
        return owned;
    }
}
