package io.github.flux4j.pipeline.offload;

import io.github.flux4j.pipeline.Offload;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Chooses a {@link MemoryPlan}: for an explicit {@link Offload} mode ({@link #forMode}), or the
 * fastest plan whose estimated device memory stays within a VRAM budget ({@link #plan}). Pure
 * arithmetic on sizes and estimates, no LibTorch: {@code FluxPipeline} measures the loaded models
 * ({@link Sizes}) and the planner never touches them.
 *
 * <h2>The search</h2>
 * Every combination of: CLIP and the VAE resident or offloaded; T5 resident, offloaded, streamed
 * block by block (when its block sizes are known) or run on the CPU; the transformer's unstreamed part resident or offloaded, with {@code k} of its blocks
 * resident (the largest first, so that what streams is small and the arenas, sized for the
 * largest streamed block, are too) and the others streamed; the VAE decoded whole or in
 * {@link #VAE_TILE}-pixel tiles. A combination is feasible when each stage's estimated peak (the
 * resident weights, the arenas, the model moved in for the stage, the stage's activations) is at
 * most the budget. Among feasible ones it takes the smallest {@link #overheadSeconds cost}: the
 * per-generation time spent moving models and streaming blocks every step (both at
 * {@link #PINNED_BYTES_PER_SECOND}; streaming overlaps compute, so this is a bound), running T5 on the CPU (at {@link #CPU_FLOPS}) and tiling ({@link #TILING_SECONDS}).
 * Ties go to the plan with more resident bytes.
 *
 * <h2>Estimates</h2>
 * Activation sizes are upper-bound formulas (see {@link Workload#estimate}) plus
 * {@link #ALLOCATOR_SLACK} for the caching allocator's rounding and fragmentation; the budget
 * counts LibTorch's allocations (what {@code max_memory_allocated} reports), not the CUDA context
 * (about 0.5 GiB more on the card).
 */
public final class MemoryPlanner {
    /**
     * Host-to-device speed of a copy from page-locked memory, bytes/s: a PCIe 4 figure (PCIe 5
     * hosts reach about twice it). Both model moves and streamed blocks copy at it: offloaded
     * models and streamed blocks live in page-locked memory on CUDA.
     */
    public static final double PINNED_BYTES_PER_SECOND = 24e9;
    /** bf16 matrix throughput assumed for T5 on the CPU, FLOP/s. */
    public static final double CPU_FLOPS = 300e9;
    /** Cost assumed for a tiled rather than whole VAE decode, seconds. */
    public static final double TILING_SECONDS = 0.3;
    /** Tile side, in pixels, when the planner tiles the VAE decode. */
    public static final int VAE_TILE = 512;
    /** Added to every stage's activations: allocator rounding, fragmentation, small tensors. */
    public static final long ALLOCATOR_SLACK = 256L << 20;

    private MemoryPlanner() {}

    /**
     * The models' sizes on the device.
     *
     * @param clipBytes             CLIP-L's weights
     * @param t5Bytes               T5's weights
     * @param vaeBytes              the VAE's weights
     * @param transformerOtherBytes the transformer's weights outside its blocks
     * @param blockBytes            each block's packed size ({@code BlockLayout.totalBytes()}), in
     *                              {@code BlockHook} numbering
     * @param t5BlockBytes          each T5 block's packed size, part of {@code t5Bytes} (empty: T5
     *                              cannot be {@link Placement#STREAMED})
     */
    public record Sizes(
            long clipBytes,
            long t5Bytes,
            long vaeBytes,
            long transformerOtherBytes,
            long[] blockBytes,
            long[] t5BlockBytes) {
        /** Validates and copies. */
        public Sizes {
            blockBytes = blockBytes.clone();
            t5BlockBytes = t5BlockBytes.clone();
            if (clipBytes < 0 || t5Bytes < 0 || vaeBytes < 0 || transformerOtherBytes < 0) {
                throw new IllegalArgumentException("sizes must not be negative");
            }
            long t5Blocks = 0;
            for (long b : blockBytes) {
                if (b < 0) {
                    throw new IllegalArgumentException("block sizes must not be negative");
                }
            }
            for (long b : t5BlockBytes) {
                if (b < 0) {
                    throw new IllegalArgumentException("block sizes must not be negative");
                }
                t5Blocks += b;
            }
            if (t5Blocks > t5Bytes) {
                throw new IllegalArgumentException(
                        "T5's blocks (" + t5Blocks + " bytes) cannot be larger than T5 (" + t5Bytes + " bytes)");
            }
        }

        /** Sizes of a T5 that cannot stream (no block sizes). */
        public Sizes(long clipBytes, long t5Bytes, long vaeBytes, long transformerOtherBytes, long[] blockBytes) {
            this(clipBytes, t5Bytes, vaeBytes, transformerOtherBytes, blockBytes, new long[0]);
        }

        @Override
        public long[] blockBytes() {
            return blockBytes.clone();
        }

        @Override
        public long[] t5BlockBytes() {
            return t5BlockBytes.clone();
        }

        /** Whether T5 can be {@link Placement#STREAMED}. */
        public boolean t5Streamable() {
            return t5BlockBytes.length > 0;
        }

        /** T5's weights outside its blocks (token embedding, final norm). */
        public long t5OtherBytes() {
            long sum = 0;
            for (long b : t5BlockBytes) {
                sum += b;
            }
            return t5Bytes - sum;
        }

        /** One T5 streaming arena: its largest block. */
        public long t5ArenaBytes() {
            long max = 0;
            for (long b : t5BlockBytes) {
                max = Math.max(max, b);
            }
            return max;
        }

        /** All blocks together. */
        public long blockBytesTotal() {
            long s = 0;
            for (long b : blockBytes) {
                s += b;
            }
            return s;
        }

        /** The whole transformer. */
        public long transformerBytes() {
            return transformerOtherBytes + blockBytesTotal();
        }
    }

    /**
     * What a generation needs besides the weights, as estimated for one image size.
     *
     * @param height             image height in pixels
     * @param width              image width in pixels
     * @param batch              images per call
     * @param steps              denoising steps (streaming costs per step)
     * @param clipActivation     CLIP's activations
     * @param t5Activation       T5's activations on the device
     * @param t5CpuSeconds       T5's time on the CPU (its cost when placed there)
     * @param transformerActivation the transformer's per-block activations and dequantized weights
     * @param vaeActivation      a whole (untiled) decode's activations
     * @param vaeTiledActivation a decode in {@link #VAE_TILE}-pixel tiles
     */
    public record Workload(
            int height,
            int width,
            int batch,
            int steps,
            long clipActivation,
            long t5Activation,
            double t5CpuSeconds,
            long transformerActivation,
            long vaeActivation,
            long vaeTiledActivation) {
        /**
         * Upper-bound estimates for FLUX.1 shapes.
         *
         * @param hidden          the transformer's hidden size (3072)
         * @param mlpHidden       its MLP width (12288)
         * @param largestLinear   elements of its largest linear weight (dequantized per call)
         * @param t5DModel        T5's {@code d_model} (4096)
         * @param t5DFf           T5's {@code d_ff} (10240)
         * @param t5Heads         T5's heads (64)
         * @param t5Bytes         T5's weight bytes (for its FLOPs on the CPU)
         * @param maxSequenceLength T5 tokens (512 for dev)
         * @param elementBytes    bytes per activation element (2 for bf16, 4 for float32)
         */
        public static Workload estimate(
                int height,
                int width,
                int batch,
                int steps,
                long hidden,
                long mlpHidden,
                long largestLinear,
                long t5DModel,
                long t5DFf,
                long t5Heads,
                long t5Bytes,
                int maxSequenceLength,
                int elementBytes) {
            if (height <= 0 || width <= 0 || batch <= 0 || steps <= 0 || elementBytes <= 0 || maxSequenceLength <= 0) {
                throw new IllegalArgumentException(
                        "height, width, batch, steps, maxSequenceLength and elementBytes must be" + " positive");
            }
            long e = elementBytes;
            long seq = maxSequenceLength + (long) (height / 16) * (width / 16);
            // a block holds about 16 [S, h] and 2 [S, mlp] tensors at once (qkv, rope, attention,
            // residuals, the MLP), plus one weight expanded to the compute dtype via float32
            long transformer = batch * e * seq * (16 * hidden + 2 * mlpHidden) + largestLinear * (e + 4);
            long t5 = batch * (long) maxSequenceLength * e * (8 * t5DModel + 3 * t5DFf)
                    + batch * t5Heads * (long) maxSequenceLength * maxSequenceLength * 4 * 2;
            long clip = batch * 77L * e * (8 * 768 + 3 * 3072) + batch * 12L * 77 * 77 * 4 * 2;
            // the decoder's widest full-resolution layer: two 256-channel maps in the compute
            // dtype plus one float32 (group norm), and the image itself
            long pixels = (long) height * width;
            long vae = batch * pixels * (2 * 256 * e + 256 * 4 + 3 * e);
            long tile = (long) VAE_TILE * VAE_TILE;
            long vaeTiled = batch * (tile * (2 * 256 * e + 256 * 4) + 2 * pixels * 3 * e);
            double t5Seconds = 2.0 * (t5Bytes / (double) e) * maxSequenceLength * batch / CPU_FLOPS;
            return new Workload(height, width, batch, steps, clip, t5, t5Seconds, transformer, vae, vaeTiled);
        }
    }

    /** The plan of an explicit mode: every component resident (NONE) or offloaded, all blocks streamed for SEQUENTIAL. */
    public static MemoryPlan forMode(Offload mode, Sizes sizes, Workload work) {
        Objects.requireNonNull(mode, "mode");
        int n = sizes.blockBytes.length;
        return switch (mode) {
            case NONE ->
                evaluate(
                        null,
                        sizes,
                        work,
                        Placement.RESIDENT,
                        Placement.RESIDENT,
                        Placement.RESIDENT,
                        Placement.RESIDENT,
                        0,
                        false);
            case MODEL ->
                evaluate(
                        null,
                        sizes,
                        work,
                        Placement.OFFLOADED,
                        Placement.OFFLOADED,
                        Placement.OFFLOADED,
                        Placement.OFFLOADED,
                        0,
                        false);
            case SEQUENTIAL ->
                evaluate(
                        null,
                        sizes,
                        work,
                        Placement.OFFLOADED,
                        sizes.t5Streamable() ? Placement.STREAMED : Placement.OFFLOADED,
                        Placement.OFFLOADED,
                        Placement.OFFLOADED,
                        n,
                        false);
        };
    }

    /**
     * The fastest plan whose every stage fits in {@code budgetBytes}.
     *
     * @throws IllegalArgumentException if the budget is not positive, or no plan fits: the message
     *                                  gives the smallest budget that would
     */
    public static MemoryPlan plan(long budgetBytes, Sizes sizes, Workload work) {
        if (budgetBytes <= 0) {
            throw new IllegalArgumentException("the VRAM budget must be positive, got " + budgetBytes + " bytes");
        }
        int n = sizes.blockBytes.length;
        MemoryPlan best = null;
        MemoryPlan smallest = null;
        Placement[] two = {Placement.RESIDENT, Placement.OFFLOADED};
        Placement[] three = sizes.t5Streamable()
                ? new Placement[] {Placement.RESIDENT, Placement.OFFLOADED, Placement.STREAMED, Placement.HOST}
                : new Placement[] {Placement.RESIDENT, Placement.OFFLOADED, Placement.HOST};
        for (Placement clip : two) {
            for (Placement t5 : three) {
                for (Placement tr : two) {
                    for (Placement vae : two) {
                        for (boolean tiled : new boolean[] {false, true}) {
                            for (int streamed = 0; streamed <= n; streamed++) {
                                MemoryPlan p = evaluate(budgetBytes, sizes, work, clip, t5, tr, vae, streamed, tiled);
                                if (smallest == null || p.peakBytes() < smallest.peakBytes()) {
                                    smallest = p;
                                }
                                if (p.peakBytes() <= budgetBytes && (best == null || better(p, best))) {
                                    best = p;
                                }
                            }
                        }
                    }
                }
            }
        }
        if (best == null) {
            throw new IllegalArgumentException("a VRAM budget of " + MemoryPlan.gib(budgetBytes) + " is too small for "
                    + work.width() + "x" + work.height() + " images: the smallest plan needs about "
                    + MemoryPlan.gib(Objects.requireNonNull(smallest, "no plan enumerated")
                            .peakBytes()) + " (every block streamed, T5 on the CPU, tiled decode)");
        }
        return best;
    }

    private static boolean better(MemoryPlan a, MemoryPlan b) {
        double d = a.estimatedOverheadSeconds() - b.estimatedOverheadSeconds();
        if (Math.abs(d) > 1e-9) {
            return d < 0;
        }
        return a.peakBytes() > b.peakBytes(); // equally fast: keep more resident
    }

    /** Block indices in the order they stay resident: largest first, then by index. */
    static List<Integer> residencyOrder(long[] blockBytes) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < blockBytes.length; i++) {
            order.add(i);
        }
        order.sort(Comparator.comparingLong((Integer i) -> -blockBytes[i]).thenComparingInt(i -> i));
        return order;
    }

    /** The plan with these choices, its stage peaks and cost ({@code streamedCount} blocks streamed). */
    static MemoryPlan evaluate(
            @Nullable Long budget,
            Sizes s,
            Workload w,
            Placement clip,
            Placement t5,
            Placement tr,
            Placement vae,
            int streamedCount,
            boolean tiled) {
        long[] blocks = s.blockBytes;
        List<Integer> order = residencyOrder(blocks);
        SortedSet<Integer> streamed = new TreeSet<>(order.subList(blocks.length - streamedCount, blocks.length));
        long streamedBytes = 0;
        long arena = 0;
        for (int b : streamed) {
            streamedBytes += blocks[b];
            arena = Math.max(arena, blocks[b]);
        }
        int arenas = Math.min(2, streamed.size());
        long trResident = s.transformerBytes() - streamedBytes;

        long resident = arenas * arena; // the arenas are allocated for the pipeline's lifetime
        resident += clip == Placement.RESIDENT ? s.clipBytes : 0;
        resident += t5 == Placement.RESIDENT ? s.t5Bytes : 0;
        resident += tr == Placement.RESIDENT ? trResident : 0;
        resident += vae == Placement.RESIDENT ? s.vaeBytes : 0;
        long slack = ALLOCATOR_SLACK;
        long clipPeak = resident + (clip == Placement.OFFLOADED ? s.clipBytes : 0) + w.clipActivation() + slack;
        if (t5 == Placement.STREAMED && !s.t5Streamable()) {
            throw new IllegalArgumentException("T5 cannot stream: no T5 block sizes given");
        }
        long t5Peak = resident
                + (t5 == Placement.OFFLOADED ? s.t5Bytes : 0)
                + (t5 == Placement.STREAMED ? s.t5OtherBytes() + 2 * s.t5ArenaBytes() : 0)
                + (t5 == Placement.HOST ? 0 : w.t5Activation())
                + slack;
        long text = Math.max(clipPeak, t5Peak);
        long denoise = resident + (tr == Placement.OFFLOADED ? trResident : 0) + w.transformerActivation() + slack;
        long decode = resident
                + (vae == Placement.OFFLOADED ? s.vaeBytes : 0)
                + (tiled ? w.vaeTiledActivation() : w.vaeActivation())
                + slack;

        double cost = 0;
        cost += clip == Placement.OFFLOADED ? s.clipBytes / PINNED_BYTES_PER_SECOND : 0;
        cost += t5 == Placement.OFFLOADED ? s.t5Bytes / PINNED_BYTES_PER_SECOND : 0;
        cost += t5 == Placement.HOST ? w.t5CpuSeconds() : 0;
        cost += t5 == Placement.STREAMED
                ? s.t5OtherBytes() / PINNED_BYTES_PER_SECOND + (s.t5Bytes - s.t5OtherBytes()) / PINNED_BYTES_PER_SECOND
                : 0;
        cost += tr == Placement.OFFLOADED ? trResident / PINNED_BYTES_PER_SECOND : 0;
        cost += vae == Placement.OFFLOADED ? s.vaeBytes / PINNED_BYTES_PER_SECOND : 0;
        cost += w.steps() * (streamedBytes / PINNED_BYTES_PER_SECOND);
        cost += tiled ? TILING_SECONDS : 0;
        return new MemoryPlan(
                budget,
                clip,
                t5,
                tr,
                vae,
                streamed,
                blocks.length,
                arena,
                arenas,
                streamedBytes,
                tiled ? VAE_TILE : 0,
                text,
                denoise,
                decode,
                cost,
                w);
    }

    /** The estimated cost of a plan, seconds per generation (see the class comment). */
    public static double overheadSeconds(MemoryPlan plan) {
        return plan.estimatedOverheadSeconds();
    }
}
