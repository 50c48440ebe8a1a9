package io.github.flux4j.core.weights;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.torch.Scopes;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * The native weights one binding loaded: every {@link LinearOp} and tensor handed out by a
 * {@link WeightPath}. The model built by the binding keeps this and closes it in its own
 * {@code close()}; blocks therefore own no native memory of their own.
 */
public final class LoadedWeights implements AutoCloseable {
    private final List<LinearOp> linears = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final List<WeightInfo> leftovers;
    private long bytes;
    private boolean closed;

    LoadedWeights(List<WeightInfo> leftovers) {
        this.leftovers = List.copyOf(leftovers);
    }

    synchronized void add(LinearOp op, long sourceBytes) {
        linears.add(op);
        bytes += sourceBytes;
    }

    synchronized void add(Tensor t, long sourceBytes) {
        tensors.add(t);
        bytes += sourceBytes;
    }

    /** Tensors of the source the model did not use (always empty after a strict binding). */
    public List<WeightInfo> leftovers() {
        return leftovers;
    }

    /** Number of linear layers loaded. */
    public synchronized int linearCount() {
        return linears.size();
    }

    /** Number of plain tensors loaded (norm scales and the like). */
    public synchronized int tensorCount() {
        return tensors.size();
    }

    /** Bytes read from the source (the stored size: quantized bytes for quantized tensors). */
    public synchronized long sourceBytes() {
        return bytes;
    }

    /** Frees every loaded weight. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (LinearOp op : linears) {
            try {
                op.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        for (Tensor t : tensors) {
            Scopes.release(t);
        }
        linears.clear();
        tensors.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
