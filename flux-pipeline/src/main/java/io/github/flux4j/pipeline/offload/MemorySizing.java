package io.github.flux4j.pipeline.offload;

import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.offload.BlockLayout;
import io.github.flux4j.core.offload.BlockStreamer;
import io.github.flux4j.core.offload.StreamableBlocks;
import io.github.flux4j.core.t5.T5Config;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.vae.VaeDecoder;
import io.github.flux4j.pipeline.GenerationOptions;
import java.util.List;

/**
 * Measures loaded models for the {@link MemoryPlanner}: their weights' bytes as they are in
 * memory (the stored form on the device), and the transformer's and T5's per-block layouts.
 */
public final class MemorySizing {
    private MemorySizing() {}

    /** The models' sizes (before any block is streamed). */
    public static MemoryPlanner.Sizes sizes(
            ClipTextModel clip, T5EncoderModel t5, FluxTransformer transformer, VaeDecoder vae) {
        List<BlockLayout> layouts = BlockStreamer.layouts(StreamableBlocks.of(transformer));
        long[] blocks = new long[layouts.size()];
        long blockTensorBytes = 0;
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = layouts.get(i).totalBytes();
            for (BlockLayout.Entry e : layouts.get(i).entries()) {
                blockTensorBytes += e.bytes();
            }
        }
        long other = Math.max(0, transformer.memoryBytes() - blockTensorBytes);
        List<BlockLayout> t5Layouts = BlockStreamer.layouts(StreamableBlocks.of(t5));
        long[] t5Blocks = new long[t5Layouts.size()];
        long t5BlockTensorBytes = 0;
        for (int i = 0; i < t5Blocks.length; i++) {
            t5Blocks[i] = t5Layouts.get(i).totalBytes();
            for (BlockLayout.Entry e : t5Layouts.get(i).entries()) {
                t5BlockTensorBytes += e.bytes();
            }
        }
        // a packed block is its tensors plus alignment padding: T5's size as the planner sees it
        // holds the padded blocks and the rest as it is
        long t5Size = Math.max(0, t5.memoryBytes() - t5BlockTensorBytes);
        for (long b : t5Blocks) {
            t5Size += b;
        }
        return new MemoryPlanner.Sizes(clip.memoryBytes(), t5Size, vae.memoryBytes(), other, blocks, t5Blocks);
    }

    /** The workload of one image of {@code imageSize} squared at {@code steps} steps, T5's 512 tokens. */
    public static MemoryPlanner.Workload workload(
            FluxTransformer transformer, T5EncoderModel t5, ComputeDtype dtype, int imageSize, int steps) {
        FluxConfig c = transformer.config();
        long h = c.hiddenSize();
        long mlp = c.mlpHidden();
        long largest = Math.max(6 * h * h, Math.max(h * (h + mlp), mlp * h));
        T5Config t = t5.config();
        int e = dtype == ComputeDtype.F32 ? 4 : 2;
        return MemoryPlanner.Workload.estimate(
                imageSize,
                imageSize,
                1,
                steps,
                h,
                mlp,
                largest,
                t.dModel(),
                t.dFf(),
                t.numHeads(),
                t5.memoryBytes(),
                GenerationOptions.MAX_SEQUENCE_LENGTH,
                e);
    }
}
