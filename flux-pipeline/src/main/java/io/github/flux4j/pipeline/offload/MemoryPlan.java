package io.github.flux4j.pipeline.offload;

import java.util.Collections;
import java.util.Locale;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * What lives where while a pipeline runs: each component's {@link Placement}, the transformer
 * blocks that stream ({@link io.github.flux4j.core.offload.BlockStreamer}), the VAE's tiling, and
 * the device memory each stage is expected to need. Made by {@link MemoryPlanner}: from an
 * explicit {@link io.github.flux4j.pipeline.Offload} mode, or as the fastest plan within a VRAM
 * budget. {@link #describe(MemoryPlanner.Sizes)} is the plan as the pipeline prints it.
 *
 * @param budgetBytes     the VRAM budget planned for, or null for an explicit mode
 * @param clip            CLIP-L's placement
 * @param t5              T5's placement
 * @param transformer     the transformer's unstreamed part (embedders, final layer, resident blocks)
 * @param vae             the VAE's placement
 * @param streamedBlocks  transformer blocks streamed to the device (in {@code BlockHook} numbering)
 * @param blockCount      the transformer's number of blocks
 * @param arenaBytes      bytes of one streaming arena (0 when nothing streams)
 * @param arenaCount      streaming arenas (2, 1 or 0)
 * @param streamedBytes   bytes copied to the device per denoising step
 * @param vaeTileSize     the VAE decode's tile side in pixels, or 0 for no forced tiling
 * @param textPeakBytes   estimated device memory while the text encoders run
 * @param denoisePeakBytes estimated device memory while the transformer runs
 * @param decodePeakBytes estimated device memory while the VAE decodes
 * @param estimatedOverheadSeconds the cost the planner minimised: model moves, streamed bytes,
 *                        T5 on the CPU and tiling, per generation (a relative measure)
 * @param workload        what the estimates assume (image size, steps)
 */
public record MemoryPlan(
        @Nullable Long budgetBytes,
        Placement clip,
        Placement t5,
        Placement transformer,
        Placement vae,
        SortedSet<Integer> streamedBlocks,
        int blockCount,
        long arenaBytes,
        int arenaCount,
        long streamedBytes,
        int vaeTileSize,
        long textPeakBytes,
        long denoisePeakBytes,
        long decodePeakBytes,
        double estimatedOverheadSeconds,
        MemoryPlanner.Workload workload) {

    /** Copies the block set (unmodifiable). */
    public MemoryPlan {
        Objects.requireNonNull(clip, "clip");
        Objects.requireNonNull(t5, "t5");
        Objects.requireNonNull(transformer, "transformer");
        Objects.requireNonNull(vae, "vae");
        Objects.requireNonNull(workload, "workload");
        streamedBlocks = Collections.unmodifiableSortedSet(new TreeSet<>(streamedBlocks));
        if (clip == Placement.HOST || transformer == Placement.HOST || vae == Placement.HOST) {
            throw new IllegalArgumentException("only T5 can run on the CPU (HOST)");
        }
        if (clip == Placement.STREAMED || transformer == Placement.STREAMED || vae == Placement.STREAMED) {
            throw new IllegalArgumentException(
                    "only T5 is STREAMED as a whole (the transformer's blocks stream through streamedBlocks)");
        }
    }

    /** The largest of the stage peaks. */
    public long peakBytes() {
        return Math.max(textPeakBytes, Math.max(denoisePeakBytes, decodePeakBytes));
    }

    /** Whether any model moves between the CPU and the device during a generation. */
    public boolean movesModels() {
        return clip == Placement.OFFLOADED
                || t5 == Placement.OFFLOADED
                || t5 == Placement.STREAMED
                || transformer == Placement.OFFLOADED
                || vae == Placement.OFFLOADED;
    }

    /**
     * The plan in a few lines: one per component with its placement and size, then the stage
     * peaks. See docs/memory.md, "Reading a plan".
     *
     * @param sizes the component sizes the plan was made for
     */
    public String describe(MemoryPlanner.Sizes sizes) {
        StringBuilder sb = new StringBuilder();
        sb.append("memory plan");
        if (budgetBytes != null) {
            sb.append(" for a VRAM budget of ").append(gib(budgetBytes));
        }
        sb.append(String.format(
                Locale.ROOT,
                " (estimated for %dx%d, batch %d, %d steps):%n",
                workload.width(),
                workload.height(),
                workload.batch(),
                workload.steps()));
        line(sb, "text_encoder", sizes.clipBytes(), place(clip));
        String t5What = switch (t5) {
            case HOST -> "on the CPU (runs there)";
            case STREAMED ->
                String.format(
                        Locale.ROOT,
                        "streamed: %d blocks one at a time through 2 arenas of %s while it runs (the"
                                + " other %s moved in for its stage)",
                        sizes.t5BlockBytes().length,
                        gib(sizes.t5ArenaBytes()),
                        gib(sizes.t5OtherBytes()));
            default -> place(t5);
        };
        line(sb, "text_encoder_2", sizes.t5Bytes(), t5What);
        long blocks = sizes.blockBytesTotal();
        String tr = place(transformer);
        if (!streamedBlocks.isEmpty()) {
            tr += String.format(
                    Locale.ROOT,
                    "; %d of %d blocks resident, %d streamed (%s per step) through %d arena%s of %s",
                    blockCount - streamedBlocks.size(),
                    blockCount,
                    streamedBlocks.size(),
                    gib(streamedBytes),
                    arenaCount,
                    arenaCount == 1 ? "" : "s",
                    gib(arenaBytes));
        }
        line(sb, "transformer", sizes.transformerOtherBytes() + blocks, tr);
        line(
                sb,
                "vae",
                sizes.vaeBytes(),
                place(vae) + (vaeTileSize > 0 ? "; tiled decode (" + vaeTileSize + " px tiles)" : ""));
        sb.append(String.format(
                Locale.ROOT,
                "  estimated device peak: text %s, denoise %s, decode %s",
                gib(textPeakBytes),
                gib(denoisePeakBytes),
                gib(decodePeakBytes)));
        if (budgetBytes != null) {
            sb.append(" (budget ").append(gib(budgetBytes)).append(')');
        }
        return sb.toString();
    }

    private static void line(StringBuilder sb, String name, long bytes, String what) {
        sb.append(String.format(Locale.ROOT, "  %-15s %9s  %s%n", name, gib(bytes), what));
    }

    private static String place(Placement p) {
        return switch (p) {
            case RESIDENT -> "resident on the device";
            case OFFLOADED -> "offloaded (on the device only while it runs)";
            case HOST -> "on the CPU";
            case STREAMED -> "streamed block by block while it runs";
        };
    }

    /** {@code bytes} as GiB with two decimals ("6.00 GiB"). */
    public static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
