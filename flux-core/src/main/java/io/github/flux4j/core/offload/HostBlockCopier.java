package io.github.flux4j.core.offload;

import io.github.flux4j.core.torch.Scopes;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * {@link BlockCopier} for a CPU target: the arenas are CPU buffers and each copy is a synchronous
 * {@code copy_}. Streaming then saves no memory, but it runs exactly the code paths of the CUDA
 * streamer except the stream and event calls, so that CPU tests can check it.
 */
final class HostBlockCopier implements BlockCopier {
    private final @Nullable Tensor[] arenas = new Tensor[2]; // null once closed or freed
    private final List<Tensor> hostBuffers = new ArrayList<>();
    private final long arenaBytes;
    private final int slots;
    private boolean closed;

    HostBlockCopier(long arenaBytes, int slots) {
        this.arenaBytes = arenaBytes;
        this.slots = slots;
        for (int i = 0; i < slots; i++) {
            arena(i);
        }
    }

    @Override
    public Tensor allocateHost(long bytes) {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Scopes.keep(torch.empty(new long[] {bytes}, new TensorOptions(ScalarType.Byte), null));
            hostBuffers.add(t);
            return t;
        }
    }

    @Override
    public Tensor arena(int slot) {
        if (closed) {
            throw new IllegalStateException("block copier is closed");
        }
        if (slot < 0 || slot >= slots) {
            throw new IllegalArgumentException("no arena " + slot + " (" + slots + " arenas)");
        }
        Tensor arena = arenas[slot];
        if (arena == null) {
            try (PointerScope scope = new PointerScope()) {
                arena = Scopes.keep(torch.empty(new long[] {arenaBytes}, new TensorOptions(ScalarType.Byte), null));
            }
            arenas[slot] = arena;
        }
        return arena;
    }

    @Override
    public void freeArenas() {
        for (int i = 0; i < arenas.length; i++) {
            Scopes.release(arenas[i]);
            arenas[i] = null;
        }
    }

    @Override
    public void copy(Tensor host, long bytes, int slot) {
        try (PointerScope scope = new PointerScope()) {
            arena(slot).narrow(0, 0, bytes).copy_(host.narrow(0, 0, bytes));
        }
    }

    @Override
    public void awaitCopy(int slot) {
        // copies are synchronous
    }

    @Override
    public void release(int slot) {
        // nothing runs asynchronously
    }

    @Override
    public void close() {
        closed = true;
        for (int i = 0; i < arenas.length; i++) {
            Scopes.release(arenas[i]);
            arenas[i] = null;
        }
        hostBuffers.forEach(Scopes::release);
        hostBuffers.clear();
    }
}
