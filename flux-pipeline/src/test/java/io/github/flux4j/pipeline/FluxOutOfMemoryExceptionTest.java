package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.DeviceMemory;
import io.github.flux4j.core.torch.FluxDevice;
import org.junit.jupiter.api.Test;

/**
 * The classification of LibTorch's out-of-memory errors and the message built from them, on the
 * messages LibTorch 2.10 writes (CUDA caching allocator, CPU allocator).
 */
class FluxOutOfMemoryExceptionTest {
    /** c10::OutOfMemoryError's what() from the CUDA caching allocator, as JavaCPP passes it on. */
    static final String CUDA_OOM = "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of"
            + " 139.81 GiB of which 1.17 GiB is free. Including non-PyTorch memory, this process has 138.63 GiB"
            + " memory in use. Of the allocated memory 130.10 GiB is allocated by PyTorch, and 2.92 GiB is reserved"
            + " by PyTorch but unallocated. If reserved but unallocated memory is large try setting"
            + " PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.\n"
            + "Exception raised from malloc at /pytorch/c10/cuda/CUDACachingAllocator.cpp:1441";
    /** c10's DefaultCPUAllocator failing. */
    static final String CPU_OOM = "[enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: can't allocate"
            + " memory: you tried to allocate 1152921504606846976 bytes. Error code 12 (Cannot allocate memory)";

    static FluxOutOfMemoryException.Request request(FluxDevice device, Offload offload, int perPrompt, boolean tiled) {
        return new FluxOutOfMemoryException.Request(
                2048, 1024, 2, perPrompt, 28, 512, tiled, device, ComputeDtype.BF16, offload);
    }

    @Test
    void libTorchOutOfMemoryMessagesAreRecognisedAnywhereInTheCauseChain() {
        assertThat(FluxOutOfMemoryException.isOutOfMemory(new RuntimeException(CUDA_OOM)))
                .isTrue();
        assertThat(FluxOutOfMemoryException.isOutOfMemory(new RuntimeException(CPU_OOM)))
                .isTrue();
        assertThat(FluxOutOfMemoryException.isOutOfMemory(
                        new IllegalStateException("moving text_encoder_2", new RuntimeException(CUDA_OOM))))
                .isTrue();
        assertThat(FluxOutOfMemoryException.isOutOfMemory(
                        new RuntimeException("cuDNN error: CUDNN_STATUS_ALLOC_FAILED")))
                .isTrue();
        // Not memory: shape errors, the Java heap (the JVM cannot be trusted to go on), nothing.
        assertThat(FluxOutOfMemoryException.isOutOfMemory(new RuntimeException(
                        "The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1")))
                .isFalse();
        assertThat(FluxOutOfMemoryException.isOutOfMemory(new OutOfMemoryError("Java heap space")))
                .isFalse();
        assertThat(FluxOutOfMemoryException.isOutOfMemory(new RuntimeException((String) null)))
                .isFalse();
        assertThat(FluxOutOfMemoryException.isOutOfMemory(null)).isFalse();
    }

    @Test
    void theRequestedSizeIsTakenFromLibTorchsMessage() {
        assertThat(FluxOutOfMemoryException.tried(new RuntimeException(CUDA_OOM)))
                .isEqualTo("20.00 GiB");
        assertThat(FluxOutOfMemoryException.tried(new RuntimeException(CPU_OOM)))
                .isEqualTo("1152921504606846976 bytes");
        assertThat(FluxOutOfMemoryException.tried(new RuntimeException("CUDA out of memory")))
                .isNull();
    }

    @Test
    void theMessageNamesStageStepSizesMemoryAndWhatToTry() {
        DeviceMemory mem = new DeviceMemory(FluxDevice.cuda(0), 130L << 30, 133L << 30, 1L << 30, 140L << 30);
        FluxOutOfMemoryException e = new FluxOutOfMemoryException(
                FluxOutOfMemoryException.Stage.DENOISING,
                3,
                request(FluxDevice.cuda(0), Offload.NONE, 2, false),
                mem,
                new RuntimeException(CUDA_OOM));
        assertThat(e.stage()).isEqualTo(FluxOutOfMemoryException.Stage.DENOISING);
        assertThat(e.step()).hasValue(3);
        assertThat(e.memory()).contains(mem);
        assertThat(e.request().batch()).isEqualTo(4);
        assertThat(e.getMessage())
                .startsWith("CUDA out of memory during denoising (step 3 of 28) of 2048x1024 images, batch 4"
                        + " (2 prompt(s) x 2 per prompt), bf16 on cuda:0, offload NONE: LibTorch tried to allocate"
                        + " 20.00 GiB. Now cuda:0 has 140.00 GiB, 1.00 GiB free; live tensors hold 130.00 GiB,"
                        + " LibTorch's allocator 133.00 GiB. The call's tensors were freed and the pipeline is still"
                        + " usable. To fit, try: build the pipeline with offload(Offload.MODEL)")
                .contains(
                        "a smaller image (now 2048x1024",
                        "batch 4); generate them one by one",
                        "a lower GGUF quantization");
        assertThat(e.getCause()).hasMessage(CUDA_OOM);
    }

    @Test
    void suggestionsFitTheStageAndTheSettings() {
        // VAE decoding, already offloading, one image: smaller image and tiling, nothing else.
        assertThat(FluxOutOfMemoryException.suggestions(
                        FluxOutOfMemoryException.Stage.VAE_DECODING,
                        request(FluxDevice.cuda(0), Offload.MODEL, 1, false)))
                .hasSize(3)
                .anySatisfy(s -> assertThat(s).startsWith("a smaller image"))
                .anySatisfy(s -> assertThat(s).startsWith("fewer images per call"))
                .anySatisfy(s -> assertThat(s).startsWith("VAE tiling"));
        // Tiled already: no tiling advice; T5 on the CPU: no offload advice, a shorter sequence.
        assertThat(FluxOutOfMemoryException.suggestions(
                        FluxOutOfMemoryException.Stage.VAE_DECODING,
                        request(FluxDevice.cuda(0), Offload.MODEL, 1, true)))
                .noneMatch(s -> s.startsWith("VAE tiling"));
        assertThat(FluxOutOfMemoryException.suggestions(
                        FluxOutOfMemoryException.Stage.TEXT_ENCODING_T5,
                        request(FluxDevice.cpu(), Offload.NONE, 1, false)))
                .noneMatch(s -> s.contains("Offload.MODEL") || s.startsWith("a smaller image"))
                .anySatisfy(s -> assertThat(s).startsWith("a shorter maxSequenceLength (now 512"));
        FluxOutOfMemoryException cpu = new FluxOutOfMemoryException(
                FluxOutOfMemoryException.Stage.TEXT_ENCODING_CLIP,
                0,
                request(FluxDevice.cpu(), Offload.NONE, 1, false),
                null,
                new RuntimeException(CPU_OOM));
        assertThat(cpu.step()).isEmpty();
        assertThat(cpu.memory()).isEmpty();
        assertThat(cpu.getMessage())
                .startsWith("out of memory during text encoding (CLIP) of 2048x1024 images")
                .contains("tried to allocate 1152921504606846976 bytes");
    }
}
