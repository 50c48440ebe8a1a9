package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.NativeMemory;
import java.io.IOException;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.cuda.CUDAAllocator;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Running out of memory in a generation: a {@link FluxOutOfMemoryException} naming the stage, after
 * which the pipeline gives the same images as before. On the CPU the failure is injected where
 * LibTorch would raise it (a trace hook throwing LibTorch's CUDA message at a stage's tensor); on a
 * CUDA machine (skipped elsewhere) the allocator really runs out, under a memory fraction.
 */
class FluxPipelineOutOfMemoryTest {
    static FluxPipeline flux;
    static GenerationResult before;

    @BeforeAll
    static void load() throws IOException {
        flux = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q8_0, ComputeDtype.F32)
                .build();
        before = flux.generate(List.of("a fox"), options().build());
    }

    @AfterAll
    static void close() {
        flux.close();
    }

    static GenerationOptions.Builder options() {
        return GenerationOptions.builder()
                .size(48, 32)
                .steps(3)
                .maxSequenceLength(16)
                .numImagesPerPrompt(2)
                .seed(11);
    }

    @ParameterizedTest
    @CsvSource({
        "pooled_prompt_embeds, TEXT_ENCODING_CLIP, 0",
        "prompt_embeds,        TEXT_ENCODING_T5,   0",
        "latents.initial,      PREPARING_LATENTS,  0",
        "noise_pred.1,         DENOISING,          2",
        "image.decoded,        VAE_DECODING,       0"
    })
    void anOutOfMemoryNamesItsStageAndThePipelineStaysUsable(
            String at, FluxOutOfMemoryException.Stage stage, int step) {
        FluxPipeline p = flux;
        PipelineTrace failing = (name, tensor) -> {
            if (name.equals(at)) {
                throw new RuntimeException(FluxOutOfMemoryExceptionTest.CUDA_OOM);
            }
        };
        long live = NativeMemory.livePointers();
        FluxOutOfMemoryException e = catchThrowableOfType(
                FluxOutOfMemoryException.class,
                () -> p.generate(List.of("a fox"), options().trace(failing).build()));
        // Every tensor of the failed call was freed.
        assertThat(NativeMemory.livePointers()).isLessThanOrEqualTo(live);
        assertThat(e.stage()).isEqualTo(stage);
        if (step > 0) {
            assertThat(e.step()).hasValue(step);
            assertThat(e.getMessage()).contains("during denoising (step " + step + " of 3)");
        } else {
            assertThat(e.step()).isEmpty();
            assertThat(e.getMessage()).contains("during " + stage.description() + " of 32x48 images, batch 2");
        }
        assertThat(e.request())
                .isEqualTo(new FluxOutOfMemoryException.Request(
                        32, 48, 1, 2, 3, 16, false, FluxDevice.cpu(), ComputeDtype.F32, Offload.NONE));
        assertThat(e.getCause()).hasMessage(FluxOutOfMemoryExceptionTest.CUDA_OOM);
        // Usable afterwards, and unchanged.
        assertThat(p.generate(List.of("a fox"), options().build()).images()).isEqualTo(before.images());
    }

    @Test
    void otherFailuresAreNotReportedAsOutOfMemory() {
        FluxPipeline p = flux;
        PipelineTrace failing = (name, tensor) -> {
            if (name.equals("noise_pred.0")) {
                throw new IllegalStateException("not memory");
            }
        };
        IllegalStateException e = catchThrowableOfType(
                IllegalStateException.class,
                () -> p.generate("a fox", options().trace(failing).build()));
        assertThat(e).hasMessage("not memory");
    }

    /**
     * A real CUDA out-of-memory: the caching allocator is limited to what the tiny pipeline holds
     * plus 256 MiB, then asked for 4 images of 2048x2048 (the VAE alone needs gigabytes). The
     * generation fails with the exception naming a stage, the limit is kept, and a small
     * generation then works and equals the one made before: nothing of the failed call was left.
     */
    @Test
    void onCudaARealOutOfMemoryLeavesThePipelineUsable() throws IOException {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device");
        FluxDevice cuda = FluxDevice.cuda(0);
        try (FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q8_0, ComputeDtype.BF16)
                .device(cuda)
                .build()) {
            GenerationResult onCuda = p.generate(List.of("a fox"), options().build());
            CUDAAllocator alloc = torch_cuda.getAllocator();
            double fraction = alloc.getMemoryFraction((byte) 0);
            try (PointerScope scope = new PointerScope()) {
                torch_cuda.device_synchronize();
                long total = alloc.getMemoryInfo((byte) 0).second();
                long reserved = alloc.getDeviceStats((byte) 0).reserved_bytes().current();
                alloc.setMemoryFraction(Math.min(1.0, (reserved + (256L << 20)) / (double) total), (byte) 0);
                FluxOutOfMemoryException e = catchThrowableOfType(
                        FluxOutOfMemoryException.class,
                        () -> p.generate(
                                List.of("a fox", "a city"),
                                GenerationOptions.builder()
                                        .size(2048, 2048)
                                        .steps(1)
                                        .maxSequenceLength(16)
                                        .numImagesPerPrompt(2)
                                        .seed(11)
                                        .build()));
                assertThat(e).as("the allocator limit must be hit").isNotNull();
                assertThat(e.getMessage())
                        .startsWith("CUDA out of memory during ")
                        .contains("2048x2048 images, batch 4");
                assertThat(e.memory()).isPresent();
                assertThat(p.generate(List.of("a fox"), options().build()).images())
                        .isEqualTo(onCuda.images());
            } finally {
                alloc.setMemoryFraction(fraction, (byte) 0);
            }
        }
    }
}
