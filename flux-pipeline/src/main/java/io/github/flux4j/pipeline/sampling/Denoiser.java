package io.github.flux4j.pipeline.sampling;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.torch.TensorTrace;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.pipeline.scheduler.Schedule;
import java.time.Duration;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;

/**
 * The denoising loop of diffusers' {@code FluxPipeline.__call__}: for each step of a
 * {@link Schedule}, the transformer's velocity for the current latents, then the scheduler's
 * Euler step. Each step runs in its own scope (a {@link TensorSlot}): only the new latents survive
 * it, and the previous ones are freed as soon as the new ones exist.
 *
 * <p>The trace receives, per step i: {@code timestep.i} (what the transformer receives:
 * {@code t / 1000} in the compute dtype), {@code noise_pred.i} and {@code latents.step}i.
 */
public final class Denoiser {
    private final FluxTransformer transformer;
    private final FluxDevice device;
    private final ComputeDtype dtype;

    /** The conditioning every step gives the transformer (all owned by the caller). */
    public record Conditioning(
            Tensor promptEmbeds,
            Tensor textIds,
            Tensor pooled,
            Tensor imageIds,
            @Nullable Tensor guidance) {}

    /** Called around each step, on the denoising thread. */
    public interface StepListener {
        /**
         * Step {@code index} (0-based) of {@code total} is about to run; throwing (a cancellation)
         * stops the loop, its latents freed.
         */
        void beforeStep(int index, int total);

        /** Step {@code index} finished in {@code time} (device work included). */
        void afterStep(int index, int total, Duration time);
    }

    /** A loop running {@code transformer} on {@code device} in {@code dtype} (the pipeline's). */
    public Denoiser(FluxTransformer transformer, FluxDevice device, ComputeDtype dtype) {
        this.transformer = transformer;
        this.device = device;
        this.dtype = dtype;
    }

    /**
     * Runs every step of {@code schedule} from {@code latents}.
     *
     * @param latents the initial (noise) latents {@code [B, tokens, 64]}, left as they are
     * @return the denoised latents, owned by the caller's innermost scope (or the caller without
     *         one); {@code latents} itself when the schedule has no steps
     */
    public Tensor denoise(Tensor latents, Conditioning c, Schedule schedule, TensorTrace trace, StepListener listener) {
        int steps = schedule.numInferenceSteps();
        long batch = latents.size(0);
        Device dev = device.toTorch();
        ScalarType st = dtype.scalarType();
        try (TensorSlot current = new TensorSlot()) {
            for (int i = 0; i < steps; i++) {
                listener.beforeStep(i, steps);
                long s0 = System.nanoTime();
                int index = i;
                Tensor in = current.isEmpty() ? latents : current.get();
                // The new latents are made in the step's own scope; then the previous ones are freed.
                current.compute(() -> {
                    Tensor t = schedule.transformerTimestep(index, batch, st, dev);
                    trace.record("timestep." + index, t);
                    Tensor v = transformer.forward(
                            in, c.imageIds(), c.promptEmbeds(), c.textIds(), t, c.pooled(), c.guidance());
                    trace.record("noise_pred." + index, v);
                    Tensor stepped = schedule.step(v, index, in);
                    trace.record("latents.step" + index, stepped);
                    syncDevice();
                    return stepped;
                });
                listener.afterStep(i, steps, Duration.ofNanos(System.nanoTime() - s0));
            }
            return current.isEmpty() ? latents : current.handOver();
        }
    }

    /** Waits for the device, so that step timings and cancellation points are real on CUDA. */
    private void syncDevice() {
        if (device.isCuda()) {
            torch_cuda.device_synchronize();
        }
    }
}
