package io.github.flux4j.examples.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.pipeline.GenerationOptions;
import io.github.flux4j.pipeline.GenerationResult;
import io.github.flux4j.pipeline.Offload;
import io.github.flux4j.pipeline.offload.Placement;
import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory modes on a full-width FLUX.1-dev (hidden 3072, T5 d_model 4096, CLIP-L 768, the real
 * VAE) cut to one double and one single block, one CLIP layer and one T5 block: SEQUENTIAL and a
 * budgeted plan give NONE's images bit for bit, and the budget holds (the allocator's peak).
 * Skipped without CUDA; writes about 1 GB of synthetic weights.
 */
class FullWidthMemoryModesCudaTest {
    @TempDir
    static Path dir;

    static Path gguf;
    static Path base;

    @BeforeAll
    static void write() throws IOException {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
        FluxConfig dev = FluxConfig.dev();
        FluxConfig twoBlocks = new FluxConfig(
                dev.inChannels(),
                dev.vecInDim(),
                dev.contextInDim(),
                dev.hiddenSize(),
                dev.mlpRatio(),
                dev.numHeads(),
                1,
                1,
                dev.axesDim(),
                dev.theta(),
                dev.qkvBias(),
                dev.guidanceEmbed());
        gguf = dir.resolve("flux-2-blocks-Q8_0.gguf");
        SyntheticFluxGguf.write(gguf, twoBlocks, SyntheticFluxGguf.Options.of(GgmlType.Q8_0));
        base = dir.resolve("base");
        SyntheticFluxBase.write(
                base,
                SyntheticFluxBase.Spec.fluxDev().withLayers(1, 1),
                0,
                Runtime.getRuntime().availableProcessors());
    }

    private static FluxPipeline.Builder builder() {
        return FluxPipeline.builder()
                .transformer(gguf)
                .baseModel(base)
                .device(FluxDevice.cuda(0))
                .computeDtype(ComputeDtype.BF16);
    }

    @Test
    void sequentialAndBudgetedPlansMatchNoneWithinTheBudget() throws IOException {
        GenerationOptions options =
                GenerationOptions.builder().size(512, 512).steps(3).seed(11).build();
        GenerationResult none;
        try (FluxPipeline p = builder().build()) {
            none = p.generate("a lighthouse at dusk", options);
        }
        long budget;
        try (FluxPipeline p = builder().offload(Offload.SEQUENTIAL).build()) {
            System.out.println(p.describeMemoryPlan());
            for (int i = 0; i < 2; i++) {
                assertThat(p.generate("a lighthouse at dusk", options).images()).isEqualTo(none.images());
            }
            budget = p.memoryPlan().peakBytes() + p.memoryPlan().streamedBytes() / 2;
        }
        torch_cuda.getAllocator().emptyCache();
        torch_cuda.getAllocator().resetPeakStats((byte) 0);
        long before = torch_cuda
                .getAllocator()
                .getDeviceStats((byte) 0)
                .allocated_bytes()
                .current();
        try (FluxPipeline p = builder().vramBudget(budget).build()) {
            System.out.println(p.describeMemoryPlan());
            GenerationResult r = p.generate("a lighthouse at dusk", options);
            if (p.memoryPlan().t5() != Placement.HOST) {
                assertThat(r.images()).isEqualTo(none.images());
            }
            long peak = torch_cuda
                            .getAllocator()
                            .getDeviceStats((byte) 0)
                            .allocated_bytes()
                            .peak()
                    - before;
            assertThat(peak).as(p.describeMemoryPlan()).isLessThanOrEqualTo(budget);
        }
    }
}
