package io.github.flux4j.core.torch;

import java.util.function.Supplier;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * Helpers for JavaCPP's {@link PointerScope}, the only thing that frees LibTorch temporaries
 * promptly (the garbage collector does not see native memory). The idea is DJL's {@code NDScope}:
 * open a scope around a unit of work, let every temporary attach to it, and move out only the
 * result.
 *
 * <pre>{@code
 * try (PointerScope step = new PointerScope()) {
 *     Tensor h = Scopes.scoped(() -> block.forward(x));   // block temporaries freed already
 *     ...                                                   // h is freed with `step`
 * }
 * }</pre>
 *
 * See {@code docs/memory.md}.
 */
public final class Scopes {
    private Scopes() {}

    /**
     * Runs {@code body} in a fresh inner scope, frees every native object it created except its
     * result, and hands the result to the enclosing scope.
     *
     * <p>With an enclosing scope the result is freed when that scope closes. Without one the
     * caller owns it and must {@code close()} it.
     *
     * @return the tensor {@code body} returned, now owned by the enclosing scope (or the caller)
     */
    public static Tensor scoped(Supplier<Tensor> body) {
        return handOver(owned(body));
    }

    /**
     * {@link #scoped} for a body with several results: every tensor of the array survives the inner
     * scope and is handed to the enclosing one.
     */
    public static Tensor[] scopedAll(Supplier<Tensor[]> body) {
        Tensor[] result;
        try (PointerScope inner = new PointerScope()) {
            result = body.get();
            for (Tensor t : result) {
                t.retainReference();
            }
        }
        for (Tensor t : result) {
            handOver(t);
        }
        return result;
    }

    /**
     * Runs {@code body} in a fresh inner scope, frees every native object it created except its
     * result, and returns the result owned by the caller alone (in no scope, one reference): the
     * caller must {@code close()} it, store it in a {@link TensorSlot} or pass it to
     * {@link #handOver}.
     */
    public static Tensor owned(Supplier<Tensor> body) {
        try (PointerScope inner = new PointerScope()) {
            // Retained once more than the inner scope holds, so inner.close() leaves it alive.
            return body.get().retainReference();
        }
    }

    /**
     * Gives a tensor the caller owns (one reference, in no scope) to the caller's innermost scope,
     * which then frees it when it closes; without an open scope the caller keeps owning it.
     *
     * @return {@code owned}
     */
    public static Tensor handOver(Tensor owned) {
        PointerScope outer = PointerScope.getInnerScope();
        if (outer != null) {
            outer.attach(owned); // the outer scope now holds a reference ...
            owned.releaseReference(); // ... and ours is dropped, so `outer` alone decides
        }
        return owned;
    }

    /**
     * Keeps {@code t} alive past the scope it was created in; the caller must {@code close()} it
     * later (closing releases exactly this extra reference). Use it for results stored in fields,
     * such as the latents carried from one denoising step to the next.
     *
     * <p>Do not use {@code scope.detach(t)} for this: detaching releases the scope's reference and
     * so frees {@code t} at once.
     *
     * @return {@code t}
     */
    public static <P extends Pointer> P keep(P t) {
        return t.retainReference();
    }

    /**
     * Closes {@code t} if it is not null, ignoring a tensor that was already freed; for
     * {@code close()} methods of objects that own tensors.
     */
    public static void release(@Nullable Pointer t) {
        if (t != null && !t.isNull()) {
            t.close();
        }
    }
}
