package io.github.flux4j.core.transformer;

import io.github.flux4j.core.cuda.CudaGraph;
import io.github.flux4j.core.torch.Tensors;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.jspecify.annotations.Nullable;

/**
 * {@link FluxTransformer#forward} replayed from CUDA graphs: one graph per input shape, captured on
 * the second forward of that shape (the first runs eagerly and makes everything the forward creates
 * lazily), then each call copies its inputs into the graph's own input tensors and launches the
 * graph once, so the host no longer issues the step's ~1,100 kernels one by one.
 *
 * <p>For a model resident on one CUDA device (no block streaming or offloading, which move weights
 * during the forward). Inputs may be on the host or the device; the graph reads copies on the
 * device, all seven copied in before each replay. The RoPE tables are computed inside the graph
 * from its own ids tensors (the model's RoPE cache is bypassed while it is captured: a graph must
 * not hold the addresses of tables that cache frees when other ids come). A move or close of
 * the model drops every graph ({@code LoadedModel.weightsGeneration}).
 *
 * <p>The result is a new tensor in the caller's scope (a copy of the graph's output). Same values
 * as the eager forward (bit for bit on an H100, 2026-12-06). It takes the host off the step (0.6
 * instead of 35 ms to issue a 1024² Q8_0 step) but did not shorten a GPU-bound 1024² step there;
 * {@code TransformerBenchmark --paths graph} measures it.
 */
public final class GraphedForward implements AutoCloseable {
    /** Graphs kept at most (each holds the forward's activation memory). */
    public static final int MAX_GRAPHS = 2;

    private final FluxTransformer model;
    private final Map<Key, Entry> entries = new LinkedHashMap<>();
    private long generation;
    private boolean closed;

    /**
     * @throws IllegalArgumentException if the model is not on a CUDA device
     */
    public GraphedForward(FluxTransformer model) {
        if (!model.device().isCuda()) {
            throw new IllegalArgumentException("GraphedForward needs a model on a CUDA device, got " + model.device());
        }
        this.model = model;
        this.generation = model.weightsGeneration();
    }

    /**
     * As {@link FluxTransformer#forward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)}.
     *
     * @throws IllegalStateException if this or the model is closed
     */
    public synchronized Tensor forward(
            Tensor img,
            Tensor imgIds,
            Tensor txt,
            Tensor txtIds,
            Tensor timestep,
            Tensor y,
            @Nullable Tensor guidance) {
        if (closed) {
            throw new IllegalStateException("GraphedForward is closed");
        }
        long g = model.weightsGeneration();
        if (g != generation) {
            dropAll();
            generation = g;
        }
        if (!model.device().isCuda()) {
            return model.forward(img, imgIds, txt, txtIds, timestep, y, guidance);
        }
        Key key = Key.of(img, txt, timestep, y, guidance, imgIds, txtIds);
        Entry e = entries.get(key);
        if (e == null) {
            // first forward of this shape: eager, which also makes the lazily created state
            entries.put(key, new Entry());
            evictBeyond(MAX_GRAPHS);
            return model.forward(img, imgIds, txt, txtIds, timestep, y, guidance);
        }
        CudaGraph graph = e.graph != null ? e.graph : e.capture(model, img, imgIds, txt, txtIds, timestep, y, guidance);
        e.load(img, txt, timestep, y, guidance, imgIds, txtIds);
        graph.replay();
        return graph.output().clone();
    }

    /** Graphs held now. */
    public synchronized int graphs() {
        return (int) entries.values().stream().filter(x -> x.graph != null).count();
    }

    /** Frees every graph and its memory; the model stays open. Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        dropAll();
    }

    private void dropAll() {
        entries.values().forEach(Entry::close);
        entries.clear();
    }

    private void evictBeyond(int max) {
        Iterator<Entry> it = entries.values().iterator();
        while (entries.size() > max && it.hasNext()) {
            it.next().close();
            it.remove();
        }
    }

    /** What a graph is valid for: the inputs' shapes and dtypes (their values are copied in). */
    private record Key(String shapes) {
        static Key of(@Nullable Tensor... inputs) {
            StringBuilder s = new StringBuilder();
            for (Tensor t : inputs) {
                s.append(t == null ? "-" : Arrays.toString(Tensors.shape(t)) + t.scalar_type())
                        .append(';');
            }
            return new Key(s.toString());
        }
    }

    /** One shape's graph and its input tensors (the graph reads these addresses). */
    private static final class Entry {
        private @Nullable CudaGraph graph;
        private Tensor @Nullable [] inputs; // img, txt, timestep, y, guidance (or null), imgIds, txtIds

        CudaGraph capture(
                FluxTransformer model,
                Tensor img,
                Tensor imgIds,
                Tensor txt,
                Tensor txtIds,
                Tensor timestep,
                Tensor y,
                @Nullable Tensor guidance) {
            // the graph's own inputs, on the model's device; the RoPE tables are computed inside the
            // graph from its own ids (RopeCache.bypassed), so every replay uses the ids copied in
            Device dev = model.device().toTorch();
            Tensor[] in = {
                onDevice(img, dev),
                onDevice(txt, dev),
                onDevice(timestep, dev),
                onDevice(y, dev),
                guidance == null ? null : onDevice(guidance, dev),
                onDevice(imgIds, dev),
                onDevice(txtIds, dev)
            };
            for (Tensor t : in) {
                if (t != null) {
                    t.retainReference();
                }
            }
            CudaGraph g;
            try {
                g = CudaGraph.capture(
                        (int) dev.index(),
                        1,
                        () -> RopeCache.bypassed(() -> model.forward(in[0], in[5], in[1], in[6], in[2], in[3], in[4])));
            } catch (RuntimeException | Error ex) {
                release(in);
                throw ex;
            }
            graph = g;
            inputs = in;
            return g;
        }

        /** A copy of {@code t} on {@code dev} (never {@code t} itself). */
        private static Tensor onDevice(Tensor t, Device dev) {
            Tensor d = torch.empty(Tensors.shape(t), t.options().device(new DeviceOptional(dev)), null);
            return d.copy_(t);
        }

        void load(
                Tensor img,
                Tensor txt,
                Tensor timestep,
                Tensor y,
                @Nullable Tensor guidance,
                Tensor imgIds,
                Tensor txtIds) {
            Tensor[] in = inputs;
            if (in == null) {
                throw new IllegalStateException("no graph captured for these inputs");
            }
            Tensor[] given = {img, txt, timestep, y, guidance, imgIds, txtIds};
            for (int i = 0; i < given.length; i++) {
                if (given[i] != null && in[i] != null) {
                    in[i].copy_(given[i]);
                }
            }
        }

        void close() {
            if (graph != null) {
                graph.close();
                graph = null;
            }
            if (inputs != null) {
                release(inputs);
                inputs = null;
            }
        }

        private static void release(Tensor[] in) {
            for (Tensor t : in) {
                if (t != null) {
                    t.releaseReference();
                }
            }
        }
    }
}
