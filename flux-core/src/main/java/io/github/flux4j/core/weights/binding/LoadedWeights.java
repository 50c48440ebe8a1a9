package io.github.flux4j.core.weights.binding;

import io.github.flux4j.core.nn.DenseLinear;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.nn.QuantizedLinear;
import io.github.flux4j.core.torch.Cleanup;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.PinnedHostMemory;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.source.WeightInfo;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * The native weights one binding loaded: every {@link LinearOp} and tensor handed out by a
 * {@link WeightPath}. The model built by the binding keeps this and closes it in its own
 * {@code close()}; blocks therefore own no native memory of their own.
 */
public final class LoadedWeights implements AutoCloseable {
    private final List<LinearOp> linears = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();
    /** Every tensor above and inside the linears, in a fixed order: what {@link #moveTo} moves. */
    private final List<Tensor> movable = new ArrayList<>();
    /** Per entry of {@link #movable}: its CPU storage kept while it lives elsewhere, or null. */
    private final List<@Nullable Tensor> hostCopies = new ArrayList<>();

    /** The page-locked memory the CPU weights live in after {@link #pinHostMemory()}, or null. */
    private @Nullable PinnedHostMemory pinned;

    private final List<WeightInfo> leftovers;
    private long bytes;
    private boolean closed;

    LoadedWeights(List<WeightInfo> leftovers) {
        this.leftovers = List.copyOf(leftovers);
    }

    synchronized void add(LinearOp op, long sourceBytes) {
        linears.add(op);
        if (op instanceof DenseLinear d) {
            track(d.weight());
            track(d.bias());
        } else if (op instanceof QuantizedLinear q) {
            track(q.rawBlocks());
            track(q.bias());
        } else {
            throw new IllegalArgumentException(
                    "cannot track the tensors of a " + op.getClass().getName());
        }
        bytes += sourceBytes;
    }

    synchronized void add(Tensor t, long sourceBytes) {
        tensors.add(t);
        track(t);
        bytes += sourceBytes;
    }

    private void track(@Nullable Tensor t) {
        if (t != null) {
            movable.add(t);
            hostCopies.add(null);
        }
    }

    /**
     * Moves every weight to {@code target} in place, as PyTorch's {@code param.data =
     * param.data.to(device)}: each tensor keeps its Java object (so the layers holding it need not
     * know), its storage is replaced by a copy on {@code target} ({@code at::Tensor::set_data}).
     * Tensors already on {@code target} are left alone. Quantized blocks move as raw bytes.
     *
     * <p>With {@code keepHostCopy}, a tensor that leaves the CPU keeps its CPU storage, and a
     * later move back to the CPU reuses it instead of copying: weights never change after
     * loading, so the kept copy is still exact. A move back to the CPU always releases the kept
     * copies (the weights then live in them again).
     *
     * <p>If a copy fails (say, out of device memory), the tensors moved so far are put back where
     * they were and the exception is rethrown: the weights are never left split between devices.
     * Must not run while a forward uses the weights.
     *
     * @throws IllegalStateException if the weights are closed
     */
    public synchronized void moveTo(FluxDevice target, boolean keepHostCopy) {
        if (closed) {
            throw new IllegalStateException("the weights are closed");
        }
        int n = movable.size();
        for (LinearOp op : linears) {
            if (op instanceof QuantizedLinear q) {
                q.dropExpandedWeight(); // a resident expansion stays behind on the old device otherwise
            }
        }
        @Nullable Tensor[] previous = new Tensor[n];
        try (PointerScope scope = new PointerScope();
                NoGradGuard noGrad = Torch.noGrad()) {
            Device dev = target.toTorch();
            try {
                for (int i = 0; i < n; i++) {
                    Tensor t = movable.get(i);
                    if (isOn(t, target)) {
                        continue;
                    }
                    Tensor host = hostCopies.get(i);
                    Tensor moved = !target.isCuda() && host != null ? host : t.to(dev, Torch.dtype(t));
                    // An alias of the current storage (a new TensorImpl, unaffected by set_data):
                    // for the rollback, and as the host copy when the weights leave the CPU.
                    previous[i] = t.detach();
                    t.__dispatch_set_data(moved);
                }
            } catch (RuntimeException | Error e) {
                for (int i = 0; i < n; i++) {
                    if (previous[i] != null) {
                        try {
                            movable.get(i).__dispatch_set_data(previous[i]);
                        } catch (RuntimeException suppressed) {
                            e.addSuppressed(suppressed);
                        }
                    }
                }
                throw e;
            }
            for (int i = 0; i < n; i++) {
                Tensor before = previous[i];
                if (before == null) {
                    continue;
                }
                if (!target.isCuda()) {
                    Scopes.release(hostCopies.set(i, null));
                } else if (keepHostCopy && !before.is_cuda() && hostCopies.get(i) == null) {
                    hostCopies.set(i, Scopes.keep(before)); // survives the scope; released above or in close()
                }
            }
        }
        PinnedHostMemory p = pinned;
        if (p != null && target.isCuda() && !keepHostCopy) {
            // A one-way move: the aliases of the pinned storage went with the scope above, and
            // the copies out of it were synchronous, so nothing uses it any more.
            pinned = null;
            p.close();
        }
    }

    /**
     * Moves the weights that are on the CPU into page-locked memory, so that every later move to
     * a GPU (and back: the kept host copies are these) is a DMA transfer at the bus's speed rather
     * than a staged copy from pageable memory, about 5x slower. Each tensor keeps its Java object
     * ({@code set_data}); its pageable storage is freed as it moves, so RAM holds the weights once.
     * Weights not on the CPU, or empty (a streamed block's placeholders), are left alone. What a
     * model offloaded between uses wants; a model that stays where it is gains nothing.
     *
     * @return the bytes now pinned (0 if nothing was on the CPU, or pinned already)
     * @throws IllegalStateException if the weights are closed, CUDA is unavailable, or the driver
     *                               refuses the memory (the weights keep their values; those
     *                               moved before the refusal stay pinned, the rest pageable)
     */
    public synchronized long pinHostMemory() {
        if (closed) {
            throw new IllegalStateException("the weights are closed");
        }
        if (pinned != null) {
            return 0;
        }
        List<Tensor> cpu = new ArrayList<>();
        for (Tensor t : movable) {
            if (!t.isNull() && !t.is_cuda() && t.nbytes() > 0) {
                cpu.add(t);
            }
        }
        if (cpu.isEmpty()) {
            return 0;
        }
        long[] sizes = new long[cpu.size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = cpu.get(i).nbytes();
        }
        PinnedHostMemory memory = PinnedHostMemory.forTensors(sizes);
        try (PointerScope scope = new PointerScope();
                NoGradGuard noGrad = Torch.noGrad()) {
            for (Tensor t : cpu) {
                // The old storage goes with its last reference (this tensor's), here.
                t.__dispatch_set_data(memory.copyOf(t));
            }
        } catch (RuntimeException | Error e) {
            // Tensors already moved point into `memory`: it cannot be freed safely any more, and
            // it stays with the weights (freed in close()).
            pinned = memory;
            throw e;
        }
        pinned = memory;
        return memory.bytes();
    }

    /** Bytes of page-locked host memory the weights live in ({@link #pinHostMemory()}), or 0. */
    public synchronized long pinnedBytes() {
        PinnedHostMemory p = pinned;
        return p == null ? 0 : p.bytes();
    }

    private static boolean isOn(Tensor t, FluxDevice device) {
        return deviceOf(t).equals(device);
    }

    private static FluxDevice deviceOf(Tensor t) {
        if (!t.is_cuda()) {
            return FluxDevice.cpu();
        }
        try (PointerScope scope = new PointerScope()) { // t.device() is a new native object
            return FluxDevice.cuda(t.device().index());
        }
    }

    /** Bytes of weight storage currently kept on the CPU for weights that live elsewhere. */
    public synchronized long hostCopyBytes() {
        long sum = 0;
        for (Tensor t : hostCopies) {
            if (t != null) {
                sum += t.nbytes();
            }
        }
        return sum;
    }

    /**
     * The devices the weight tensors are on now: one device after loading and after every
     * {@link #moveTo}; empty when there are none (or after {@link #close()}).
     */
    public synchronized Set<FluxDevice> devices() {
        Set<FluxDevice> out = new LinkedHashSet<>();
        for (Tensor t : movable) {
            out.add(deviceOf(t));
        }
        return out;
    }

    /**
     * Bytes the weight tensors occupy now, wherever they are (packed bytes for quantized ones,
     * the compute dtype for the others): what the model needs on a device. Kept host copies are
     * not counted ({@link #hostCopyBytes()}).
     */
    public synchronized long memoryBytes() {
        long sum = 0;
        for (Tensor t : movable) {
            if (!t.isNull()) {
                sum += t.nbytes();
            }
        }
        return sum;
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
        @Nullable RuntimeException failure = null;
        for (LinearOp op : linears) {
            failure = Cleanup.attempt(failure, op::close);
        }
        for (Tensor t : tensors) {
            Scopes.release(t);
        }
        for (Tensor t : hostCopies) {
            Scopes.release(t);
        }
        linears.clear();
        tensors.clear();
        movable.clear();
        hostCopies.clear();
        PinnedHostMemory p = pinned;
        pinned = null;
        if (p != null) {
            // Last: every tensor over it is released above (a copy to the GPU from it is
            // synchronous, so none is still in flight).
            failure = Cleanup.attempt(failure, p::close);
        }
        if (failure != null) {
            throw failure;
        }
    }
}
