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
    private Scopes() {
    }

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
        Tensor out;
        try (PointerScope inner = new PointerScope()) {
            // Retained once more than the inner scope holds, so inner.close() leaves it alive.
            out = body.get().retainReference();
        }
        PointerScope outer = PointerScope.getInnerScope();
        if (outer != null) {
            outer.attach(out);     // the outer scope now holds a reference ...
            out.releaseReference(); // ... and ours is dropped, so `outer` alone decides
        }
        return out;
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
