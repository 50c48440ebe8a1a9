package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link Offload#MODEL} gives the same images as {@link Offload#NONE}. On the CPU the moves are
 * no-ops; on a CUDA machine (skipped elsewhere) the models really travel and must come back.
 */
class FluxPipelineOffloadTest {
    static GenerationOptions options() {
        return GenerationOptions.builder()
                .size(48, 32)
                .steps(2)
                .maxSequenceLength(16)
                .numImagesPerPrompt(2)
                .seed(9)
                .build();
    }

    @ParameterizedTest
    @EnumSource(
            value = ComputeDtype.class,
            names = {"F32", "BF16"})
    void modelOffloadGivesTheSameImagesOnTheCpu(ComputeDtype dtype) throws IOException {
        GenerationResult none;
        try (FluxPipeline p =
                TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype).build()) {
            none = p.generate(List.of("a fox", "a city"), options());
        }
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .offload(Offload.MODEL)
                .build()) {
            assertThat(p.offload()).isEqualTo(Offload.MODEL);
            for (int i = 0; i < 2; i++) {
                GenerationResult model = p.generate(List.of("a fox", "a city"), options());
                assertThat(model.images()).isEqualTo(none.images());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Offload.class)
    void aLoadedTransformerIsOwnedByThePipeline(Offload offload) throws IOException {
        FluxTransformer t = GgufTransformer.load(
                TinyPipeline.gguf(TinyFluxFiles.Variant.DEV_Q8_0),
                LoadOptions.defaults()
                        .withDtype(ComputeDtype.F32)
                        .withArithmetic(DequantArithmetic.FLOAT16_LIKE_DIFFUSERS)); // the pipeline's default
        GenerationResult fromModel;
        try (FluxPipeline p = FluxPipeline.builder()
                .transformer(t)
                .baseModel(TinyPipeline.folder())
                .device(FluxDevice.cpu())
                .computeDtype(ComputeDtype.F32)
                .offload(offload)
                .build()) {
            fromModel = p.generate("a fox", options());
        }
        assertThatThrownBy(() -> t.moveTo(FluxDevice.cpu())).hasMessageContaining("closed");
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q8_0, ComputeDtype.F32)
                .build()) {
            assertThat(p.generate("a fox", options()).images()).isEqualTo(fromModel.images());
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = ComputeDtype.class,
            names = {"F32", "BF16"})
    void onCudaModelOffloadMovesTheModelsAndGivesTheSameImages(ComputeDtype dtype) throws IOException {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device");
        FluxDevice cuda = FluxDevice.cuda(0);
        GenerationResult none;
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .device(cuda)
                .build()) {
            none = p.generate(List.of("a fox", "a city"), options());
            assertThat(none.timings().modelMoves()).isZero();
        }
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .device(cuda)
                .offload(Offload.MODEL)
                .build()) {
            long base = CudaStats.allocated();
            GenerationResult model = p.generate(List.of("a fox", "a city"), options());
            assertThat(model.images()).isEqualTo(none.images());
            assertThat(model.timings().modelMoves()).isPositive();
            // Everything back on the CPU: no weight left on the GPU.
            assertThat(CudaStats.allocated()).isLessThanOrEqualTo(base + (1 << 20));
        }
    }

    /** CUDA allocator statistics (only called when CUDA is available). */
    static final class CudaStats {
        static long allocated() {
            org.bytedeco.pytorch.global.torch_cuda.device_synchronize();
            return org.bytedeco
                    .pytorch
                    .global
                    .torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = ComputeDtype.class,
            names = {"F32", "BF16"})
    void sequentialOffloadAndBudgetPlansGiveTheSameImagesOnTheCpu(ComputeDtype dtype) throws IOException {
        GenerationResult none;
        try (FluxPipeline p =
                TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype).build()) {
            none = p.generate(List.of("a fox", "a city"), options());
            assertThat(p.memoryPlan().streamedBlocks()).isEmpty();
        }
        long budget;
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .offload(Offload.SEQUENTIAL)
                .build()) {
            assertThat(p.memoryPlan().streamedBlocks()).hasSize(4);
            // between SEQUENTIAL's needs and everything resident: the planner must stream some blocks
            budget = p.memoryPlan().peakBytes() + p.memoryPlan().streamedBytes() / 2;
            assertThat(p.describeMemoryPlan()).contains("0 of 4 blocks resident, 4 streamed");
            for (int i = 0; i < 2; i++) {
                assertThat(p.generate(List.of("a fox", "a city"), options()).images())
                        .isEqualTo(none.images());
            }
        }
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .vramBudget(budget)
                .build()) {
            assertThat(p.memoryPlan().budgetBytes()).isEqualTo(budget);
            assertThat(p.memoryPlan().peakBytes()).isLessThanOrEqualTo(budget);
            assertThat(p.generate(List.of("a fox", "a city"), options()).images())
                    .isEqualTo(none.images());
        }
    }

    @org.junit.jupiter.api.Test
    void aBudgetAndAnExplicitOffloadModeConflict() {
        assertThatThrownBy(() -> TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q8_0, ComputeDtype.F32)
                        .offload(Offload.SEQUENTIAL)
                        .vramBudget(1L << 30)
                        .build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("choose one");
        assertThatThrownBy(() -> TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q8_0, ComputeDtype.F32)
                        .vramBudget(1L << 20)
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("too small");
        assertThatThrownBy(() -> FluxPipeline.builder().vramBudget(0)).hasMessageContaining("positive");
    }

    @ParameterizedTest
    @EnumSource(
            value = ComputeDtype.class,
            names = {"F32", "BF16"})
    void onCudaSequentialAndBudgetPlansGiveTheSameImagesWithinTheBudget(ComputeDtype dtype) throws IOException {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device");
        FluxDevice cuda = FluxDevice.cuda(0);
        GenerationResult none;
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .device(cuda)
                .build()) {
            none = p.generate(List.of("a fox", "a city"), options());
        }
        long budget;
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .device(cuda)
                .offload(Offload.SEQUENTIAL)
                .build()) {
            for (int i = 0; i < 2; i++) {
                assertThat(p.generate(List.of("a fox", "a city"), options()).images())
                        .isEqualTo(none.images());
            }
            budget = p.memoryPlan().peakBytes() + p.memoryPlan().streamedBytes() / 2;
        }
        org.bytedeco.pytorch.global.torch_cuda.getAllocator().emptyCache();
        org.bytedeco.pytorch.global.torch_cuda.getAllocator().resetPeakStats((byte) 0);
        long base = CudaStats.allocated();
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q4_K, dtype)
                .device(cuda)
                .vramBudget(budget)
                .build()) {
            GenerationResult planned = p.generate(List.of("a fox", "a city"), options());
            if (p.memoryPlan().t5() != io.github.flux4j.pipeline.offload.Placement.HOST) {
                assertThat(planned.images()).isEqualTo(none.images());
            } // T5 on the CPU computes with the CPU's kernels: close, not bit-identical
            long peak = org.bytedeco
                    .pytorch
                    .global
                    .torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .peak();
            assertThat(peak - base).as(p.describeMemoryPlan()).isLessThanOrEqualTo(budget);
        }
    }
}
