package io.github.flux4j.core.cuda;

import static org.bytedeco.cuda.global.cudart.cudaGraphDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphInstantiate;
import static org.bytedeco.cuda.global.cudart.cudaGraphLaunch;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCapture;
import static org.bytedeco.cuda.global.cudart.cudaStreamCaptureModeThreadLocal;
import static org.bytedeco.cuda.global.cudart.cudaStreamEndCapture;

import io.github.flux4j.core.torch.CudaRuntime;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.cuda.CUDAStream;
import org.bytedeco.pytorch.cuda.DeviceAssertionsDataVectorCUDAKernelLaunchInfoVectorPair;
import org.bytedeco.pytorch.cuda.StreamFilter;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * A CUDA graph of one computation over fixed input tensors: captured once, then replayed with one
 * launch, so the host issues nothing per kernel (a FLUX step issues about 1,100).
 *
 * <p>Made without LibTorch's {@code at::cuda::CUDAGraph}, which the Java bindings lack, from the
 * pieces that are there: cudart's capture calls, and the caching allocator's private pools
 * ({@code createOrIncrefPool}, {@code beginAllocateToPool}, {@code endAllocateToPool},
 * {@code releasePool}). The pool keeps every block the captured work allocates, intermediates
 * included, for the graph alone, so nothing allocated between two replays can be handed an
 * address the next replay writes. Those calls take the pool id ({@code MempoolId_t}, two 64-bit
 * integers) through a wrapper whose address the JNI code casts to {@code MempoolId_t*}; the id is
 * therefore written into memory of our own and the wrapper made over it (docs/cuda-kernels.md).
 *
 * <p>Use: make the inputs (ordinary CUDA tensors), run {@code body} over them a few times as
 * warm-up (lazily made kernels, plans and workspaces must exist before capture), {@link #capture},
 * then per call copy new values into the same input tensors and {@link #replay}; {@link #output}
 * holds the result until the next replay overwrites it. The body must not synchronise with the host
 * or allocate host memory that the GPU reads (neither can be captured).
 *
 * <p>Replays equal the eager work bit for bit ({@code CudaGraphTest}, H100, 2026-12-06). Nothing
 * in flux4j uses it by default.
 */
public final class CudaGraph implements AutoCloseable {
    /** Pool ids of our own: far above LibTorch's counters (it uses {uid, 0} and {0, uid}). */
    private static final AtomicLong NEXT_POOL = new AtomicLong(1L << 48);

    /** The streams being captured now (their {@code cudaStream_t} addresses). */
    private static final Set<Long> CAPTURING = ConcurrentHashMap.newKeySet();

    /**
     * The allocator's filter during every capture: allocations on a capturing stream go to its
     * graph's pool. One instance for the process, because JavaCPP has a few callback slots per
     * callback class and a filter per graph would use one up for good.
     */
    private static final StreamFilter ON_CAPTURING_STREAM = new StreamFilter() {
        @Override
        public boolean call(Pointer s) {
            return s != null && CAPTURING.contains(s.address());
        }
    }.retainReference();

    private final byte device;
    private final LongPointer poolIdMemory;
    private final DeviceAssertionsDataVectorCUDAKernelLaunchInfoVectorPair poolId;
    private final CUgraph_st graph;
    private final CUgraphExec_st exec;
    private final Tensor output;
    private boolean closed;

    private CudaGraph(
            byte device,
            LongPointer poolIdMemory,
            DeviceAssertionsDataVectorCUDAKernelLaunchInfoVectorPair poolId,
            CUgraph_st graph,
            CUgraphExec_st exec,
            Tensor output) {
        this.device = device;
        this.poolIdMemory = poolIdMemory;
        this.poolId = poolId;
        this.graph = graph;
        this.exec = exec;
        this.output = output;
    }

    /**
     * Captures {@code body} on a side stream of {@code device} into a graph, after synchronising the
     * device (so that the inputs' writes are done) and running it {@code warmups} times on that
     * stream (outside the pool: what it creates lazily per stream, such as GEMM workspaces, exists
     * before capture). Nothing runs on the GPU during capture.
     *
     * @param body the computation; every tensor it reads must stay alive while the graph is used
     * @return the graph, whose {@link #output} is the tensor {@code body} returned
     * @throws IllegalStateException if a capture or instantiation call fails ({@link CudaRuntime#check};
     *     the pool is released then)
     */
    public static CudaGraph capture(int device, int warmups, Supplier<Tensor> body) {
        byte dev = (byte) device;
        torch_cuda.device_synchronize();
        CUDAStream previous = torch_cuda.getCurrentCUDAStream(dev);
        CUDAStream stream = torch_cuda.getStreamFromPool(false, dev);
        CUstream_st raw = stream.stream();
        LongPointer idMemory = new LongPointer(2)
                .put(0, NEXT_POOL.getAndIncrement())
                .put(1, 0L)
                .retainReference();
        DeviceAssertionsDataVectorCUDAKernelLaunchInfoVectorPair id =
                new DeviceAssertionsDataVectorCUDAKernelLaunchInfoVectorPair(idMemory);
        CUgraph_st graph = new CUgraph_st();
        CUgraphExec_st exec = new CUgraphExec_st();
        Tensor out;
        boolean pooled = false;
        boolean ok = false;
        torch_cuda.setCurrentCUDAStream(stream);
        try {
            for (int i = 0; i < warmups; i++) {
                try (PointerScope warm = new PointerScope()) {
                    var unused = body.get();
                }
            }
            torch_cuda.device_synchronize();
            torch_cuda.createOrIncrefPool(dev, id);
            pooled = true;
            CAPTURING.add(raw.address());
            torch_cuda.beginAllocateToPool(dev, id, ON_CAPTURING_STREAM);
            try {
                CudaRuntime.check(
                        cudaStreamBeginCapture(raw, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
                Tensor result = null;
                try (PointerScope scope = new PointerScope()) {
                    // the intermediates are freed when this scope closes, back into the private pool
                    result = body.get();
                    result.retainReference();
                } finally {
                    // end the capture whatever happened, or the stream stays unusable
                    int rc = cudaStreamEndCapture(raw, graph);
                    if (result != null) {
                        CudaRuntime.check(rc, "cudaStreamEndCapture");
                    }
                }
                out = result;
            } finally {
                torch_cuda.endAllocateToPool(dev, id);
                CAPTURING.remove(raw.address());
            }
            CudaRuntime.check(cudaGraphInstantiate(exec, graph, 0L), "cudaGraphInstantiate");
            ok = true;
        } finally {
            torch_cuda.setCurrentCUDAStream(previous);
            if (!ok) {
                if (!graph.isNull()) {
                    cudaGraphDestroy(graph);
                }
                if (pooled) {
                    torch_cuda.getAllocator().releasePool(dev, id);
                }
                idMemory.releaseReference();
            }
        }
        graph.retainReference();
        exec.retainReference();
        return new CudaGraph(dev, idMemory, id, graph, exec, out);
    }

    /**
     * Runs the captured work once more, over the inputs' current values, on the caller's current
     * CUDA stream of the graph's device (ordered after what was issued there before).
     */
    public void replay() {
        checkOpen();
        CUstream_st s = torch_cuda.getCurrentCUDAStream(device).stream();
        CudaRuntime.check(cudaGraphLaunch(exec, s), "cudaGraphLaunch");
    }

    /** The captured computation's result, rewritten by every {@link #replay}; owned by this graph. */
    public Tensor output() {
        checkOpen();
        return output;
    }

    /** Frees the graph and its memory pool (after the device has finished with them). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        torch_cuda.device_synchronize();
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
        output.releaseReference();
        torch_cuda.getAllocator().releasePool(device, poolId);
        poolIdMemory.releaseReference();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("CudaGraph is closed");
        }
    }
}
