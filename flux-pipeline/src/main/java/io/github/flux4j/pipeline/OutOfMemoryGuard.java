package io.github.flux4j.pipeline;

import io.github.flux4j.core.torch.DeviceMemory;
import io.github.flux4j.core.torch.Torch;
import org.jspecify.annotations.Nullable;

/**
 * Follows the stage a generation is in, so that running out of memory is reported as a
 * {@link FluxOutOfMemoryException} naming it. {@link FluxPipeline#generate} marks each stage;
 * {@link #translate} runs after the call's scopes closed (its tensors are freed) and the models
 * went back where they live, and empties the CUDA allocator's cache so the next call starts clean.
 * One per call; not thread-safe.
 */
final class OutOfMemoryGuard {
    private FluxOutOfMemoryException.Stage stage = FluxOutOfMemoryException.Stage.TEXT_ENCODING_CLIP;
    private int step;
    private FluxOutOfMemoryException.@Nullable Request request;

    /** What the call generates, known once its settings are resolved. */
    void request(FluxOutOfMemoryException.Request r) {
        this.request = r;
    }

    /** A stage begins. */
    void enter(FluxOutOfMemoryException.Stage s) {
        this.stage = s;
        this.step = 0;
    }

    /** Denoising step {@code index} (0-based) begins. */
    void step(int index) {
        this.stage = FluxOutOfMemoryException.Stage.DENOISING;
        this.step = index + 1;
    }

    /** The stage the call is in. */
    FluxOutOfMemoryException.Stage stage() {
        return stage;
    }

    /**
     * {@code e} itself, unless it is LibTorch running out of memory: then the cache is emptied and
     * a {@link FluxOutOfMemoryException} naming the stage is returned, with {@code e} as its cause.
     */
    RuntimeException translate(RuntimeException e) {
        if (e instanceof FluxOutOfMemoryException || request == null || !FluxOutOfMemoryException.isOutOfMemory(e)) {
            return e;
        }
        try {
            Torch.emptyCudaCache();
        } catch (RuntimeException | LinkageError suppressed) {
            e.addSuppressed(suppressed);
        }
        return new FluxOutOfMemoryException(
                stage, step, request, DeviceMemory.of(request.device()).orElse(null), e);
    }
}
