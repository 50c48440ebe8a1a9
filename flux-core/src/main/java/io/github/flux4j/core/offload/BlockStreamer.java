package io.github.flux4j.core.offload;

import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams a model's blocks ({@link StreamableBlocks}: the FLUX transformer, the T5 encoder) to the device: the weights of the streamed blocks
 * live in host memory (page-locked on CUDA), each block packed into one buffer by its
 * {@link BlockLayout}, and only while a block runs do its tensors point at device memory.
 *
 * <h2>How</h2>
 * {@link #attach} moves every tensor of the streamed blocks into the block's host buffer and
 * re-points the tensor (LibTorch's {@code set_data}, the tensor's Java object and its owner stay)
 * at an empty placeholder, freeing its previous storage: RAM holds the streamed weights once. The
 * rest of the model (embedders, final layer, resident blocks) is untouched and moves with the
 * model as before ({@code LoadedModel.moveTo}). The streamer is the model's
 * {@link BlockHook}: before streamed block {@code i} runs, the compute stream waits for block
 * {@code i}'s copy into one of two device arenas, the block's tensors are re-pointed at views of
 * that arena, and the copy of the next streamed block into the other arena is issued on a side
 * stream, to start as soon as the block that used that arena has been computed. After the block,
 * its tensors point at the placeholder again. A step thus costs about
 * {@code max(compute, streamed bytes / host-to-device bandwidth)}. The last block prefetches the
 * first, so consecutive forwards (denoising steps) overlap too.
 *
 * <p>Any weight format works: a block's tensors travel as the bytes they are (packed GGML
 * blocks, bf16, f32). The arithmetic is unchanged, so the output is bit-identical to an
 * unstreamed run on the same device.
 *
 * <p>On the CPU the arenas are CPU buffers and the copies synchronous: no memory is saved, but
 * the same re-pointing runs (that is what CPU tests check).
 *
 * <p>Not thread-safe; one forward at a time, on the thread and CUDA stream the streamer was
 * attached on. {@link #close()} (before the model is closed) gives the tensors host storage again.
 */
public final class BlockStreamer implements BlockHook, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BlockStreamer.class);

    private final StreamableBlocks model;
    private final FluxDevice device;
    private final int[] streamed; // block indices, ascending
    private final int[] position; // block index -> position in `streamed`, or -1
    private final List<List<Tensor>> params = new ArrayList<>(); // per streamed position: the block's tensors
    private final List<List<long[]>> shapes = new ArrayList<>(); // their shapes
    private final List<List<ScalarType>> dtypes = new ArrayList<>();
    private final List<BlockLayout> layouts = new ArrayList<>();
    private final List<Tensor> hostBlocks = new ArrayList<>(); // per streamed position, owned by the copier
    private final @Nullable BlockCopier copier;
    private final int slots;
    private final int[] inSlot = {-1, -1}; // streamed position held (or being copied) by each arena slot
    private final long arenaBytes;
    private final List<Tensor> placeholders = new ArrayList<>(); // one empty tensor per dtype, on the device
    private boolean closed;

    private BlockStreamer(
            StreamableBlocks model,
            FluxDevice device,
            int[] streamed,
            @Nullable BlockCopier copierOrNull,
            long arenaBytes,
            int slots) {
        this.model = model;
        this.device = device;
        this.streamed = streamed;
        this.position = new int[model.blockCount()];
        Arrays.fill(position, -1);
        for (int p = 0; p < streamed.length; p++) {
            position[streamed[p]] = p;
        }
        this.copier = copierOrNull;
        this.arenaBytes = arenaBytes;
        this.slots = slots;
    }

    /**
     * The byte layouts of {@code model}'s blocks (every block, in {@link BlockHook} numbering),
     * without changing anything: what a planner needs to know about sizes.
     */
    public static List<BlockLayout> layouts(StreamableBlocks model) {
        List<BlockLayout> out = new ArrayList<>();
        for (int b = 0; b < model.blockCount(); b++) {
            out.add(layoutOf(model, b));
        }
        return out;
    }

    private static BlockLayout layoutOf(StreamableBlocks model, int block) {
        List<String> names = new ArrayList<>();
        List<Long> bytes = new ArrayList<>();
        model.forEachBlockParameter(block, (n, t) -> {
            names.add(n);
            bytes.add(t.nbytes());
        });
        return BlockLayout.of(names, bytes);
    }

    /**
     * Streams blocks {@code streamedBlocks} of {@code model} to {@code device} from now on, and
     * installs itself as the model's {@link BlockHook}. The streamed blocks' weights move into
     * host buffers (from the CPU or the device, wherever they are); the model's other weights stay
     * where they are and move with the model. Allocates two arenas of the largest streamed block
     * on {@code device} (one when a single block is streamed).
     *
     * @param streamedBlocks block indices in {@code [0, model.blockCount())}; empty: nothing is
     *                       streamed and nothing allocated (the hook is then a no-op)
     * @throws IllegalArgumentException if an index is out of range, or the model has a hook already
     * @throws IllegalStateException    if {@code device} is CUDA and CUDA is unavailable, or a CUDA
     *                                  call fails (pinned host memory, an arena); the model is then
     *                                  left as it was
     */
    public static BlockStreamer attach(StreamableBlocks model, FluxDevice device, SortedSet<Integer> streamedBlocks) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(streamedBlocks, "streamedBlocks");
        if (model.blockHook() != null) {
            throw new IllegalArgumentException("the model has a block hook already (" + model.blockHook() + ")");
        }
        int[] streamed = new TreeSet<>(streamedBlocks)
                .stream().mapToInt(Integer::intValue).toArray();
        for (int b : streamed) {
            if (b < 0 || b >= model.blockCount()) {
                throw new IllegalArgumentException(
                        "block " + b + " does not exist: the model has blocks 0.." + (model.blockCount() - 1));
            }
        }
        List<BlockLayout> layouts = new ArrayList<>();
        for (int b : streamed) {
            layouts.add(layoutOf(model, b));
        }
        long arena = BlockLayout.arenaBytes(layouts);
        int slots = Math.min(2, streamed.length);
        BlockCopier copier = streamed.length == 0
                ? null
                : device.isCuda() ? new CudaBlockCopier(device, arena, slots) : new HostBlockCopier(arena, slots);
        BlockStreamer s = new BlockStreamer(model, device, streamed, copier, arena, slots);
        try {
            s.pack(layouts);
        } catch (RuntimeException | Error e) {
            try {
                s.close(); // gives the packed tensors their storage back, frees arenas and buffers
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        model.setBlockHook(s);
        LOG.debug(
                "streaming {} of {} blocks to {}: {} MiB in host buffers, arenas {} x {} MiB",
                streamed.length,
                model.blockCount(),
                device,
                s.hostBytes() >> 20,
                slots,
                arena >> 20);
        return s;
    }

    /** Moves the streamed blocks' weights into their host buffers, re-pointing the tensors at placeholders. */
    private void pack(List<BlockLayout> blockLayouts) {
        try (PointerScope scope = new PointerScope();
                NoGradGuard noGrad = Torch.noGrad()) {
            for (int p = 0; p < streamed.length; p++) {
                BlockLayout layout = blockLayouts.get(p);
                List<Tensor> ts = new ArrayList<>();
                List<long[]> ss = new ArrayList<>();
                List<ScalarType> ds = new ArrayList<>();
                model.forEachBlockParameter(streamed[p], (n, t) -> {
                    ts.add(t);
                    ss.add(shapeOf(t));
                    ds.add(Torch.dtype(t));
                });
                Tensor host = copier().allocateHost(Math.max(layout.totalBytes(), 1));
                for (int j = 0; j < ts.size(); j++) {
                    view(host, layout.entries().get(j), ss.get(j), ds.get(j)).copy_(ts.get(j));
                }
                // Only now, with the whole block copied: re-point the tensors (their old storage is freed).
                params.add(ts);
                shapes.add(ss);
                dtypes.add(ds);
                layouts.add(layout);
                hostBlocks.add(host);
                for (int j = 0; j < ts.size(); j++) {
                    ts.get(j).__dispatch_set_data(placeholder(ds.get(j)));
                }
            }
        }
    }

    private Tensor placeholder(ScalarType dtype) {
        for (Tensor t : placeholders) {
            if (Torch.dtype(t) == dtype) {
                return t;
            }
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Scopes.keep(torch.empty(
                    new long[] {0}, new TensorOptions(dtype).device(new DeviceOptional(device.toTorch())), null));
            placeholders.add(t);
            return t;
        }
    }

    private static long[] shapeOf(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }

    private static Tensor view(Tensor buffer, BlockLayout.Entry e, long[] shape, ScalarType dtype) {
        return buffer.narrow(0, e.offset(), e.bytes()).view(dtype).view(shape);
    }

    // ------------------------------------------------------------------------------ BlockHook

    @Override
    public void beforeBlock(int index) {
        int p = positionOf(index);
        if (p < 0) {
            return;
        }
        int slot = slotFor(p);
        copier().awaitCopy(slot);
        try (PointerScope scope = new PointerScope()) {
            Tensor arena = copier().arena(slot);
            List<Tensor> ts = params.get(p);
            BlockLayout layout = layouts.get(p);
            for (int j = 0; j < ts.size(); j++) {
                ts.get(j)
                        .__dispatch_set_data(view(
                                arena,
                                layout.entries().get(j),
                                shapes.get(p).get(j),
                                dtypes.get(p).get(j)));
            }
        }
        // Prefetch: the next streamed block (the first one after the last) into the other slot.
        if (slots == 2) {
            int next = (p + 1) % streamed.length;
            int other = 1 - slot;
            if (inSlot[other] != next) {
                issue(next, other);
            }
        }
    }

    @Override
    public void afterBlock(int index) {
        int p = positionOf(index);
        if (p < 0) {
            return;
        }
        int slot = inSlot[0] == p ? 0 : 1;
        copier().release(slot);
        List<Tensor> ts = params.get(p);
        for (int j = 0; j < ts.size(); j++) {
            ts.get(j).__dispatch_set_data(placeholder(dtypes.get(p).get(j)));
        }
    }

    private int positionOf(int index) {
        if (closed || streamed.length == 0 || index < 0 || index >= position.length) {
            return -1;
        }
        return position[index];
    }

    /** The slot holding (or receiving) streamed block {@code p}, issuing its copy if no slot has it. */
    private int slotFor(int p) {
        for (int s = 0; s < slots; s++) {
            if (inSlot[s] == p) {
                return s;
            }
        }
        // Not prefetched (the first block ever, or blocks ran out of order): copy now into a slot
        // not holding the block that ran last.
        int s = slots == 1 ? 0 : (inSlot[0] == -1 ? 0 : inSlot[1] == -1 ? 1 : leastRecent(p));
        issue(p, s);
        return s;
    }

    private int leastRecent(int p) {
        // the slot whose block is furthest behind p in the cyclic order ran longest ago
        int d0 = Math.floorMod(p - inSlot[0], streamed.length);
        int d1 = Math.floorMod(p - inSlot[1], streamed.length);
        return d0 >= d1 ? 0 : 1;
    }

    /** The copier, which exists whenever a block is streamed: every caller works on a streamed position. */
    private BlockCopier copier() {
        BlockCopier c = copier;
        if (c == null) {
            throw new IllegalStateException("no block is streamed");
        }
        return c;
    }

    private void issue(int p, int slot) {
        inSlot[slot] = -1; // if the copy fails, the slot holds nothing valid
        copier().copy(hostBlocks.get(p), layouts.get(p).totalBytes(), slot);
        inSlot[slot] = p;
    }

    /**
     * Frees the device arenas until the next forward needs them (which allocates them again): for a
     * model that runs once per generation (T5), so that its arenas do not stay on the device
     * through the other stages. Waits for the work in flight. Not while a forward runs.
     */
    public void freeArenas() {
        if (closed || copier == null) {
            return;
        }
        copier.freeArenas();
        inSlot[0] = -1;
        inSlot[1] = -1;
    }

    // ------------------------------------------------------------------------------ accessors

    /** The streamed block indices, ascending. */
    public int[] streamedBlocks() {
        return streamed.clone();
    }

    /** The device the blocks are streamed to. */
    public FluxDevice device() {
        return device;
    }

    /** Bytes of one device arena (0 when nothing is streamed). */
    public long arenaBytes() {
        return arenaBytes;
    }

    /** Number of device arenas: 2, 1 for a single streamed block, 0 for none. */
    public int arenaCount() {
        return slots;
    }

    /** Bytes of host buffers holding the streamed blocks. */
    public long hostBytes() {
        long sum = 0;
        for (BlockLayout l : layouts) {
            sum += l.totalBytes();
        }
        return sum;
    }

    /**
     * Stops streaming: removes the hook, gives every streamed tensor its own CPU storage again (a
     * copy of its host buffer), and frees the arenas and host buffers. The model is then usable
     * unstreamed, with the streamed blocks on the CPU (move the model to put them elsewhere).
     * Idempotent. Not while a forward runs.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (model.blockHook() == this) {
            model.setBlockHook(null);
        }
        try {
            restore();
        } finally {
            if (copier != null) {
                copier.close();
            }
            placeholders.forEach(Scopes::release);
            placeholders.clear();
        }
    }

    /** Gives the packed tensors their own CPU storage again (when the model is still open). */
    private void restore() {
        try (PointerScope scope = new PointerScope();
                NoGradGuard noGrad = Torch.noGrad()) {
            for (int p = 0; p < params.size(); p++) {
                List<Tensor> ts = params.get(p);
                for (int j = 0; j < ts.size(); j++) {
                    if (ts.get(j).isNull()) {
                        continue; // the model was closed first: its tensors are gone
                    }
                    Tensor own = view(
                                    hostBlocks.get(p),
                                    layouts.get(p).entries().get(j),
                                    shapes.get(p).get(j),
                                    dtypes.get(p).get(j))
                            .clone();
                    ts.get(j).__dispatch_set_data(own);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "BlockStreamer[" + streamed.length + " of " + model.blockCount() + " blocks to " + device + "]";
    }
}
