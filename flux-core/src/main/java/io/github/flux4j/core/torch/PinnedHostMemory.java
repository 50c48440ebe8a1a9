package io.github.flux4j.core.torch;

import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaHostAlloc;
import static org.bytedeco.cuda.global.cudart.cudaHostAllocPortable;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;

/**
 * Page-locked host memory ({@code cudaHostAlloc}) that CPU tensors can live in, so that copying
 * them to a GPU is one DMA transfer at the bus's speed instead of a staged copy from pageable
 * memory (about 25-50 GB/s against 6-7 GB/s on PCIe 5 hosts). Allocated in chunks of at most
 * {@value #CHUNK_BYTES} bytes, each exactly as large as needed: LibTorch's own pinned allocator
 * rounds every allocation up to a power of two, which would hold up to twice a model's weights.
 *
 * Chunks are allocated as {@link #copyOf} reaches them, not up front.
 *
 * <p>Tensors made by {@link #copyOf} do not own their memory: it stays valid until {@link #close()},
 * and the owner must drop every such tensor first.
 */
public final class PinnedHostMemory implements AutoCloseable {
    /**
     * Largest single allocation (64 MiB; a larger tensor gets a chunk of its own size). Smaller
     * pieces are easier for the driver to find, and a chunk is locked whole when its first tensor is
     * copied while the pageable tensors it will hold are still alive, so this is also how far above
     * the model's size host RSS rises while pinning (with 1 GiB chunks, {@code Offload.MODEL} peaked
     * 0.97 GiB above its RSS after the load on an H200, against a 1.1x target with 0.23 GiB of room).
     * A FLUX.1-dev load then makes about 340 allocations (an H200 host pinned its 21 GiB, copies
     * included, in 16.5 s).
     */
    static final long CHUNK_BYTES = 64L << 20;
    /** Alignment of each tensor in a chunk. */
    private static final long ALIGN = 256;

    /**
     * Where chunks come from: {@code cudaHostAlloc} in the library; tests on a CPU substitute
     * memory that is likewise resident from the start (all pages touched), to check how much RAM
     * pinning holds at its peak.
     */
    interface Regions {
        Pointer allocate(long bytes, String context);

        void free(Pointer region);
    }

    private static final Regions CUDA = new Regions() {
        @Override
        public Pointer allocate(long bytes, String context) {
            return allocateRegion(bytes, context);
        }

        @Override
        public void free(Pointer region) {
            freeRegion(region);
        }
    };

    private final Regions regions;
    private final List<Pointer> chunks = new ArrayList<>();
    /** The chunk sizes {@link #forTensors} planned; allocated one by one as {@link #copyOf} reaches them. */
    private final List<Long> planned = new ArrayList<>();

    private int cursor; // the chunk copyOf fills now
    private long used; // bytes of that chunk filled
    private long total;
    private boolean closed;

    private PinnedHostMemory(Regions regions) {
        this.regions = regions;
    }

    /**
     * Room for tensors of these byte sizes, in this order ({@link #copyOf} must then be called for
     * them in the same order).
     *
     * @throws IllegalStateException if CUDA is not available
     */
    public static PinnedHostMemory forTensors(long[] byteSizes) {
        if (!FluxDevice.cudaAvailable()) {
            throw new IllegalStateException("pinned host memory needs CUDA, which is not available");
        }
        Loader.load(torch_cuda.class);
        return forTensors(byteSizes, CUDA, CHUNK_BYTES);
    }

    /** {@link #forTensors(long[])} with chunks from {@code regions} of at most {@code chunkBytes} (tests). */
    static PinnedHostMemory forTensors(long[] byteSizes, Regions regions, long chunkBytes) {
        PinnedHostMemory m = new PinnedHostMemory(regions);
        long chunk = 0;
        for (long b : byteSizes) {
            long a = align(b);
            if (chunk > 0 && chunk + a > chunkBytes) {
                m.planned.add(chunk);
                chunk = 0;
            }
            chunk += a;
        }
        if (chunk > 0) {
            m.planned.add(chunk);
        }
        return m;
    }

    private void allocate(long bytes) {
        chunks.add(regions.allocate(bytes, "after " + total + " bytes"));
        total += bytes;
    }

    /**
     * One page-locked region of {@code bytes} (at least one byte is asked for), from
     * {@code cudaHostAlloc} (portable: every device sees it as pinned). Freed with
     * {@link #freeRegion}; the caller owns it.
     *
     * @param context what the memory is for, appended to the message if the driver refuses
     * @throws IllegalStateException if the driver refuses (too little RAM can be locked)
     */
    public static Pointer allocateRegion(long bytes, String context) {
        PointerPointer<Pointer> out = new PointerPointer<>(1);
        try {
            int rc = cudaHostAlloc(out, Math.max(bytes, 1), cudaHostAllocPortable);
            if (rc != 0) {
                throw new IllegalStateException("cudaHostAlloc of " + bytes + " bytes of pinned host memory failed: "
                        + CudaRuntime.errorString(rc) + " (CUDA error " + rc + "); " + context);
            }
            return out.get(0);
        } finally {
            out.close();
        }
    }

    /**
     * Frees a region of {@link #allocateRegion}; nothing may still read or write it.
     *
     * @throws IllegalStateException if the driver reports an error
     */
    public static void freeRegion(Pointer region) {
        CudaRuntime.check(cudaFreeHost(region), "cudaFreeHost");
    }

    private static long align(long bytes) {
        return (Math.max(bytes, 1) + ALIGN - 1) / ALIGN * ALIGN;
    }

    /** Bytes of page-locked memory held (the chunks allocated so far). */
    public long bytes() {
        return total;
    }

    /**
     * A contiguous CPU tensor in this memory with {@code t}'s sizes, dtype and values, in the
     * caller's scope. Called once per size given to {@link #forTensors}, in that order.
     *
     * @throws IllegalStateException if closed, if more bytes are asked than were planned, or if the
     *                               driver refuses the next chunk (the message says how much)
     */
    public Tensor copyOf(Tensor t) {
        if (closed) {
            throw new IllegalStateException("pinned host memory is closed");
        }
        long bytes = t.nbytes();
        long a = align(bytes);
        if (cursor < chunks.size() && used + a > planned.get(cursor)) {
            cursor++;
            used = 0;
        }
        if (cursor >= planned.size()) {
            throw new IllegalStateException("pinned host memory: " + bytes + " more bytes than planned");
        }
        if (cursor == chunks.size()) {
            // Each chunk is allocated when the first tensor needs it: a caller that frees each
            // tensor's pageable storage after copying it holds the weights about once, not twice.
            allocate(planned.get(cursor));
        }
        BytePointer at = new BytePointer(chunks.get(cursor)).position(used).capacity(used + bytes);
        used += a;
        Tensor view;
        try (PointerScope scope = new PointerScope()) {
            view = Scopes.keep(torch.from_blob(at, t.sizes().vec().get(), new TensorOptions(t.scalar_type())));
            view.copy_(t);
        }
        return Scopes.handOver(view);
    }

    /** Frees the memory; every tensor made by {@link #copyOf} must be gone. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        @Nullable RuntimeException failure = null;
        for (Pointer p : chunks) {
            failure = Cleanup.attempt(failure, () -> regions.free(p));
        }
        chunks.clear();
        total = 0;
        if (failure != null) {
            throw failure;
        }
    }
}
