package io.github.flux4j.core.torch;

import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * Holds at most one large tensor that belongs to no {@link org.bytedeco.javacpp.PointerScope}, and
 * frees it as soon as it is replaced: the one idiom for chains of large activations (transformer
 * streams, VAE feature maps, the denoising loop's latents).
 *
 * <p>Why: one scope around a whole forward keeps every intermediate until the scope closes. At
 * 1024x1024 one VAE activation is 256 MiB and a FLUX.1 forward's block temporaries ran out of
 * 80 GB that way. Python frees a tensor when its name is rebound; a slot does the same:
 *
 * <pre>{@code
 * try (TensorSlot h = TensorSlot.of(() -> norm.forward(x))) {   // computed in its own scope
 *     h.update(torch::silu);                                       // old h freed once the new one exists
 *     h.update(conv::forward);
 *     return h.handOver();                                         // to the caller's scope
 * }
 * }</pre>
 *
 * <p>The held tensor has exactly one reference, the slot's (see {@link Scopes}): {@link #close()}
 * frees it, {@link #handOver()} gives it to the caller's innermost scope (or the caller, without
 * one), {@link #take()} gives it to the caller alone. If a computation fails, the previous tensor
 * is still freed (by the update, or by {@code close()}). Not thread-safe: a slot belongs to the
 * code (and thread) that opened it.
 */
public final class TensorSlot implements AutoCloseable {
    private @Nullable Tensor value;

    /** An empty slot. */
    public TensorSlot() {}

    /** A slot holding {@code body}'s result, computed in its own scope (its temporaries freed). */
    public static TensorSlot of(Supplier<Tensor> body) {
        TensorSlot slot = new TensorSlot();
        slot.value = Scopes.owned(body);
        return slot;
    }

    /** Whether the slot holds nothing. */
    public boolean isEmpty() {
        return value == null;
    }

    /**
     * The held tensor, still owned by the slot: valid until the slot replaces, hands over or
     * frees it.
     *
     * @throws IllegalStateException if the slot is empty
     */
    public Tensor get() {
        Tensor t = value;
        if (t == null) {
            throw new IllegalStateException("the tensor slot is empty");
        }
        return t;
    }

    /**
     * Computes {@code body} in its own scope, stores the result and then frees the previous
     * tensor (so both exist only while {@code body} runs). If {@code body} fails the slot keeps
     * the previous tensor, which {@link #close()} frees.
     *
     * @return the new tensor, owned by the slot
     */
    public Tensor compute(Supplier<Tensor> body) {
        replace(Scopes.owned(body));
        return get();
    }

    /**
     * {@code f(current)} computed in its own scope, stored in place of the current tensor, which
     * is freed whatever happens (also when {@code f} fails; the slot is then empty).
     *
     * @return this slot
     * @throws IllegalStateException if the slot is empty
     */
    public TensorSlot update(UnaryOperator<Tensor> f) {
        Tensor prev = get();
        value = null;
        try {
            value = Scopes.owned(() -> f.apply(prev));
        } finally {
            prev.close();
        }
        return this;
    }

    /**
     * Stores {@code owned} and frees the previous tensor, if any. {@code owned} must be a tensor
     * the caller owns outside every scope: made by {@link Scopes#owned}, or retained in its scope
     * with {@link Scopes#keep} (the slot takes over that one reference).
     */
    public void replace(Tensor owned) {
        Tensor prev = value;
        value = owned;
        if (prev != null && prev != owned) {
            prev.close();
        }
    }

    /**
     * Empties the slot and gives its tensor to the caller's innermost scope (or to the caller
     * when there is none), as {@link Scopes#scoped} results are.
     *
     * @throws IllegalStateException if the slot is empty
     */
    public Tensor handOver() {
        return Scopes.handOver(take());
    }

    /**
     * Empties the slot and gives its tensor to the caller, who must {@code close()} it (or store
     * it in another slot).
     *
     * @throws IllegalStateException if the slot is empty
     */
    public Tensor take() {
        Tensor t = get();
        value = null;
        return t;
    }

    /** Frees the held tensor, if any; the slot is then empty. Idempotent. */
    @Override
    public void close() {
        Tensor t = value;
        value = null;
        Scopes.release(t);
    }
}
