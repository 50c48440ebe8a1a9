package io.github.flux4j.core.transformer;

import io.github.flux4j.core.torch.Scopes;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * The RoPE tables of the last forward, kept while the same position-id tensors come back. A
 * denoising loop passes the same text and image ids to every step, and the tables (about 35 small
 * LibTorch operations in float64, each a kernel launch and a few tens of microseconds of host time
 * with the GPU waiting at the start of a forward) are then the same. A hit needs the very same
 * tensors ({@code is_same}: the cache holds them, so their identity cannot be reused), unchanged
 * (their version counters), and the same device; anything else computes the tables again and
 * replaces the entry. Tensors without a version counter (made in inference mode) are never cached.
 * {@code -Dflux4j.ropeCache=false} turns the cache off (read on every forward). The entry holds a
 * reference to the last ids, so those stay allocated after their owner closes them, until the
 * model's next forward with other ids, a device move or {@code close()}.
 *
 * <p>Each call returns its own references to the tables, owned by the caller's scope, so a call
 * with other ids (another thread's forward) that replaces the entry frees nothing a forward still
 * reads.
 */
final class RopeCache implements AutoCloseable {
    /** System property that turns the cache off ({@code false}). */
    static final String PROPERTY = "flux4j.ropeCache";

    /** Set on a thread capturing a CUDA graph: see {@link #bypassed}. */
    private static final ThreadLocal<Boolean> BYPASS = ThreadLocal.withInitial(() -> false);

    private @Nullable Tensor txtKey;
    private @Nullable Tensor imgKey;
    private long txtVersion;
    private long imgVersion;
    private EmbedNd.@Nullable Rope rope;
    private boolean closed; // a forward racing close() must not store tables nothing would free

    /**
     * Runs {@code body} with every cache of this kind bypassed on this thread: forwards compute their
     * tables from the ids they are given and keep nothing. For {@link GraphedForward}'s warm-up and
     * capture: a graph must own its tables (computed in it from its own ids tensors on every replay),
     * not hold addresses of tables a cache may free when other ids come.
     */
    static <T> T bypassed(Supplier<T> body) {
        boolean before = BYPASS.get();
        BYPASS.set(true);
        try {
            return body.get();
        } finally {
            BYPASS.set(before);
        }
    }

    /**
     * The tables for {@code txtIds} and {@code imgIds} on {@code device}: the cached ones where they
     * were computed for the same tensors, else {@code compute}'s (kept until the ids change).
     */
    synchronized EmbedNd.Rope get(Tensor txtIds, Tensor imgIds, Device device, Supplier<EmbedNd.Rope> compute) {
        if (BYPASS.get()) { // a CUDA graph's own tables, computed inside it (and the cache left as it is)
            return compute.get();
        }
        if (closed
                || "false".equalsIgnoreCase(System.getProperty(PROPERTY, "true").trim())) {
            clear();
            return compute.get();
        }
        if (txtIds.is_inference() || imgIds.is_inference()) { // no version counter: nothing to key on
            return compute.get();
        }
        long tv = txtIds._version();
        long iv = imgIds._version();
        EmbedNd.@Nullable Rope r = rope;
        if (r != null
                && txtKey != null
                && imgKey != null
                && txtKey.is_same(txtIds)
                && imgKey.is_same(imgIds)
                && tv == txtVersion
                && iv == imgVersion
                && r.cos().device().str().getString().equals(device.str().getString())) {
            return share(r);
        }
        clear();
        try (PointerScope scope = new PointerScope()) {
            EmbedNd.Rope fresh = compute.get();
            rope = new EmbedNd.Rope(Scopes.keep(fresh.cos()), Scopes.keep(fresh.sin()));
            txtKey = Scopes.keep(new Tensor(txtIds)); // the same TensorImpl, one more reference
            imgKey = Scopes.keep(new Tensor(imgIds));
        }
        txtVersion = tv;
        imgVersion = iv;
        return share(rope);
    }

    /** New references to the kept tables, in the caller's scope (the same storage). */
    private static EmbedNd.Rope share(EmbedNd.Rope r) {
        return new EmbedNd.Rope(new Tensor(r.cos()), new Tensor(r.sin()));
    }

    /** Frees the kept tables and keys, for good: later calls compute without keeping. */
    @Override
    public synchronized void close() {
        closed = true;
        clear();
    }

    /** Frees the kept tables and keys (a device move, other ids); the next call computes again. */
    synchronized void clear() {
        EmbedNd.@Nullable Rope r = rope;
        if (r != null) {
            Scopes.release(r.cos());
            Scopes.release(r.sin());
        }
        Scopes.release(txtKey);
        Scopes.release(imgKey);
        rope = null;
        txtKey = null;
        imgKey = null;
    }
}
