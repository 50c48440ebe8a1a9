package io.github.flux4j.pipeline.scheduler;

import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalDouble;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * One denoising schedule: what diffusers' scheduler holds after {@code set_timesteps}, plus its
 * Euler {@code step}. Immutable; the step index is the caller's loop counter (FluxPipeline calls
 * {@code set_begin_index(0)} and steps through every timestep in order, which is the same).
 *
 * <p>{@link #sigmas()} has {@code numInferenceSteps + 1} float32 values, the last one terminal (0,
 * or 1 with {@code invert_sigmas}); {@link #timesteps()} has {@code numInferenceSteps} values,
 * {@code sigma * num_train_timesteps} in float32.
 */
public final class Schedule {
    private final float[] sigmas;
    private final float[] timesteps;
    private final @Nullable Double mu;

    Schedule(float[] sigmas, float[] timesteps, @Nullable Double mu) {
        if (sigmas.length != timesteps.length + 1 || timesteps.length == 0) {
            throw new IllegalArgumentException(
                    "need n >= 1 timesteps and n + 1 sigmas, got " + timesteps.length + " and " + sigmas.length);
        }
        this.sigmas = sigmas.clone();
        this.timesteps = timesteps.clone();
        this.mu = mu;
    }

    /** The number of denoising steps (model evaluations). */
    public int numInferenceSteps() {
        return timesteps.length;
    }

    /** The float32 sigmas, terminal value included ({@code numInferenceSteps() + 1} values; a copy). */
    public float[] sigmas() {
        return sigmas.clone();
    }

    /** The float32 timesteps, one per step (a copy). */
    public float[] timesteps() {
        return timesteps.clone();
    }

    /** Sigma {@code i}, {@code 0 <= i <= numInferenceSteps()}. */
    public float sigma(int i) {
        Objects.checkIndex(i, sigmas.length);
        return sigmas[i];
    }

    /** Timestep {@code i}, {@code 0 <= i < numInferenceSteps()}. */
    public float timestep(int i) {
        Objects.checkIndex(i, timesteps.length);
        return timesteps[i];
    }

    /** The dynamic shift this schedule was built with; empty without dynamic shifting. */
    public OptionalDouble mu() {
        return mu == null ? OptionalDouble.empty() : OptionalDouble.of(mu);
    }

    /**
     * diffusers' {@code index_for_timestep}: the position of {@code timestep} among the timesteps
     * (exact float comparison). If it occurs more than once, the second occurrence, as diffusers
     * picks it so that a schedule entered mid-way does not skip a sigma.
     *
     * @throws IllegalArgumentException if {@code timestep} is not one of the timesteps
     */
    public int indexForTimestep(float timestep) {
        int first = -1;
        for (int i = 0; i < timesteps.length; i++) {
            if (timesteps[i] == timestep) {
                if (first >= 0) {
                    return i;
                }
                first = i;
            }
        }
        if (first < 0) {
            throw new IllegalArgumentException(
                    "timestep " + timestep + " is not in this schedule: " + Arrays.toString(timesteps));
        }
        return first;
    }

    /**
     * The Euler step from timestep {@code index} to the next sigma, as diffusers computes it:
     * {@code (sample.to(float32) + dt * modelOutput).to(modelOutput.dtype)} with
     * {@code dt = sigma[index + 1] - sigma[index]} a 0-d float32 tensor on the sample's device.
     *
     * <p>The dtypes follow from PyTorch's promotion rules, which LibTorch shares: {@code dt}, a
     * 0-d tensor, does not promote {@code modelOutput}, so for a bfloat16 model output the product
     * is {@code bf16(bf16(dt) * v)}; the sum is float32 (the upcast sample); the result is rounded
     * once to the model output's dtype (not the sample's, when they differ).
     *
     * <p>Returns a new tensor; the inputs are not modified. Temporaries are freed before returning;
     * the result belongs to the enclosing {@link org.bytedeco.javacpp.PointerScope}, or to the
     * caller if there is none.
     *
     * @param modelOutput the transformer's prediction for timestep {@code index}
     * @param index       the step, {@code 0 <= index < numInferenceSteps()}
     * @param sample      the current latents, the same shape as {@code modelOutput}
     * @throws IllegalArgumentException if the shapes differ or a tensor is not floating point
     */
    public Tensor step(Tensor modelOutput, int index, Tensor sample) {
        Objects.checkIndex(index, timesteps.length);
        requireFloating("modelOutput", modelOutput);
        requireFloating("sample", sample);
        long[] outShape = shapeOf(modelOutput);
        long[] sampleShape = shapeOf(sample);
        if (!Arrays.equals(outShape, sampleShape)) {
            throw new IllegalArgumentException("modelOutput and sample must have the same shape, got "
                    + Arrays.toString(outShape) + " and " + Arrays.toString(sampleShape));
        }
        float dt = sigmas[index + 1] - sigmas[index]; // the float32 0-d tensor subtraction
        ScalarType outType = Torch.dtype(modelOutput);
        return Scopes.scoped(() -> {
            Tensor upcast = sample.to(ScalarType.Float);
            Tensor dtTensor = torch.scalar_tensor(new Scalar(dt), options(ScalarType.Float, sample.device()));
            Tensor prev = upcast.add(dtTensor.mul(modelOutput));
            return prev.to(outType);
        });
    }

    /**
     * The timestep tensor FluxPipeline feeds the transformer for step {@code index}:
     * {@code t.expand(batch).to(dtype) / 1000}, shape {@code [batch]}, on {@code device}. (The
     * transformer multiplies it by 1000 again; the round trip through {@code dtype} is part of the
     * reference numbers.)
     *
     * <p>The result belongs to the enclosing {@link org.bytedeco.javacpp.PointerScope}, or to the
     * caller if there is none.
     *
     * @throws IllegalArgumentException if {@code batch < 1}
     */
    public Tensor transformerTimestep(int index, long batch, ScalarType dtype, Device device) {
        Objects.checkIndex(index, timesteps.length);
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
        float t = timesteps[index];
        return Scopes.scoped(() -> torch.full(new long[] {batch}, new Scalar(t), options(ScalarType.Float, device))
                .to(dtype)
                .div(new Scalar(1000L)));
    }

    private static TensorOptions options(ScalarType dtype, Device device) {
        return new TensorOptions(dtype).device(new DeviceOptional(device));
    }

    /** The shape, without leaving the size wrappers to an enclosing scope. */
    @SuppressWarnings("try") // the scope is used for its side effect: collecting the wrappers
    private static long[] shapeOf(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            return t.sizes().vec().get();
        }
    }

    private static void requireFloating(String name, Tensor t) {
        Objects.requireNonNull(t, name);
        if (!t.defined() || !t.is_floating_point()) {
            throw new IllegalArgumentException(name + " must be a defined floating-point tensor");
        }
    }

    @Override
    public String toString() {
        return "Schedule[steps=" + timesteps.length + (mu == null ? "" : ", mu=" + mu) + ", sigmas="
                + Arrays.toString(sigmas) + "]";
    }
}
