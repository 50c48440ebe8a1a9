package io.github.flux4j.core.offload;

import static io.github.flux4j.core.torch.CudaRuntime.check;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaStreamWaitEvent;

import io.github.flux4j.core.torch.Cleanup;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.PinnedHostMemory;
import io.github.flux4j.core.torch.Scopes;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.cuda.CUDAGuard;
import org.bytedeco.pytorch.cuda.CUDAStream;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;

/**
 * {@link BlockCopier} for a CUDA device. Host buffers are page-locked ({@code cudaHostAlloc}, one
 * per streamed block, exactly its size: the weights are moved there from wherever they were
 * loaded, so the model is not held twice in RAM), which lets {@code cudaMemcpyAsync} run on the
 * copy engine while the GPU computes. Copies run on a side stream from LibTorch's pool; per arena
 * slot, an event {@code copied} (recorded on the side stream after the copy; the compute stream
 * waits on it before the block runs) and an event {@code released} (recorded on the compute
 * stream after the block's kernels were issued; the side stream waits on it before refilling the
 * slot). The compute stream is LibTorch's current stream of the device, captured when this is
 * made: forwards must run on it (the default). Every CUDA call's status is checked.
 */
final class CudaBlockCopier implements BlockCopier {
    private final FluxDevice device;
    private final CUstream_st compute;
    private final CUstream_st side;
    private final CUDAStream sideStream; // keeps the pool stream's wrapper alive
    private final CUDAStream computeStream;
    private final @Nullable Tensor[] arenas = new Tensor[2]; // null once closed or freed
    private final long arenaBytes;
    private final int slots;
    private final CUevent_st[] copied = new CUevent_st[2];
    private final CUevent_st[] released = new CUevent_st[2];
    private final boolean[] releaseRecorded = new boolean[2];
    private final List<Pointer> pinned = new ArrayList<>();
    private final List<Tensor> hostTensors = new ArrayList<>();
    private boolean closed;

    CudaBlockCopier(FluxDevice device, long arenaBytes, int slots) {
        if (!device.isCuda()) {
            throw new IllegalArgumentException("CudaBlockCopier needs a CUDA device, got " + device);
        }
        if (!FluxDevice.cudaAvailable()) {
            throw new IllegalStateException("CUDA is not available (CPU natives, no GPU or missing CUDA libraries)");
        }
        Loader.load(torch_cuda.class);
        this.device = device;
        this.arenaBytes = arenaBytes;
        this.slots = slots;
        byte index = (byte) device.index();
        try (CUDAGuard guard = new CUDAGuard(index)) {
            this.computeStream = torch_cuda.getCurrentCUDAStream(index);
            this.sideStream = torch_cuda.getStreamFromPool(false, index);
            this.compute = computeStream.stream();
            this.side = sideStream.stream();
            try {
                for (int i = 0; i < slots; i++) {
                    arenas[i] = newArena();
                    copied[i] = newEvent();
                    released[i] = newEvent();
                }
            } catch (RuntimeException | Error e) {
                try {
                    close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        }
    }

    private Tensor newArena() {
        try (PointerScope scope = new PointerScope()) {
            return Scopes.keep(torch.empty(
                    new long[] {arenaBytes},
                    new TensorOptions(ScalarType.Byte).device(new DeviceOptional(device.toTorch())),
                    null));
        }
    }

    private static CUevent_st newEvent() {
        CUevent_st e = new CUevent_st();
        check(cudaEventCreateWithFlags(e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        return e;
    }

    @Override
    public Tensor allocateHost(long bytes) {
        Pointer p = PinnedHostMemory.allocateRegion(bytes, "the streamed blocks need that much page-locked RAM");
        pinned.add(p);
        BytePointer bp = new BytePointer(p).capacity(bytes);
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Scopes.keep(torch.from_blob(bp, new long[] {bytes}, new TensorOptions(ScalarType.Byte)));
            hostTensors.add(t);
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
            try (CUDAGuard guard = new CUDAGuard((byte) device.index())) {
                arena = newArena();
            }
            arenas[slot] = arena;
        }
        return arena;
    }

    @Override
    public synchronized void freeArenas() {
        if (closed) {
            return;
        }
        try (CUDAGuard guard = new CUDAGuard((byte) device.index())) {
            // no copy may still write an arena, and no block still read it, when it is freed
            check(cudaStreamSynchronize(side), "cudaStreamSynchronize(side)");
            check(cudaStreamSynchronize(compute), "cudaStreamSynchronize(compute)");
            for (int i = 0; i < 2; i++) {
                Scopes.release(arenas[i]);
                arenas[i] = null;
                releaseRecorded[i] = false; // the events refer to work that is done
            }
        }
    }

    @Override
    public void copy(Tensor host, long bytes, int slot) {
        if (releaseRecorded[slot]) {
            check(cudaStreamWaitEvent(side, released[slot], 0), "cudaStreamWaitEvent(side, released)");
        }
        try (PointerScope scope = new PointerScope()) {
            Pointer dst = arena(slot).data_ptr();
            Pointer src = host.data_ptr();
            check(
                    cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, side),
                    "cudaMemcpyAsync of " + bytes + " bytes");
        }
        check(cudaEventRecord(copied[slot], side), "cudaEventRecord(copied)");
    }

    @Override
    public void awaitCopy(int slot) {
        check(cudaStreamWaitEvent(compute, copied[slot], 0), "cudaStreamWaitEvent(compute, copied)");
    }

    @Override
    public void release(int slot) {
        check(cudaEventRecord(released[slot], compute), "cudaEventRecord(released)");
        releaseRecorded[slot] = true;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        @Nullable RuntimeException failure = null;
        try (CUDAGuard guard = new CUDAGuard((byte) device.index())) {
            // Nothing may still read the host buffers or write the arenas when they are freed.
            failure = Cleanup.attempt(failure, () -> check(cudaStreamSynchronize(side), "cudaStreamSynchronize(side)"));
            failure = Cleanup.attempt(
                    failure, () -> check(cudaStreamSynchronize(compute), "cudaStreamSynchronize(compute)"));
            for (int i = 0; i < 2; i++) {
                CUevent_st c = copied[i];
                CUevent_st r = released[i];
                if (c != null) {
                    failure = Cleanup.attempt(failure, () -> check(cudaEventDestroy(c), "cudaEventDestroy"));
                }
                if (r != null) {
                    failure = Cleanup.attempt(failure, () -> check(cudaEventDestroy(r), "cudaEventDestroy"));
                }
                Scopes.release(arenas[i]);
                arenas[i] = null;
            }
            hostTensors.forEach(Scopes::release);
            hostTensors.clear();
            for (Pointer p : pinned) {
                failure = Cleanup.attempt(failure, () -> PinnedHostMemory.freeRegion(p));
            }
            pinned.clear();
        }
        if (failure != null) {
            throw failure;
        }
    }
}
