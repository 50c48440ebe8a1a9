package io.github.flux4j.pipeline.scheduler;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * diffusers' {@code FlowMatchEulerDiscreteScheduler} with the two pieces of {@code FluxPipeline}
 * that feed it ({@code calculate_shift} and the linspace sigmas), giving exactly diffusers' float32
 * sigmas and timesteps.
 *
 * <pre>{@code
 * FlowMatchEulerScheduler scheduler = new FlowMatchEulerScheduler(FlowMatchEulerSchedulerConfig.read(file));
 * Schedule schedule = scheduler.fluxSchedule(28, geometry.imageSeqLen());   // FluxPipeline's step 5
 * for (int i = 0; i < schedule.numInferenceSteps(); i++) {
 *     Tensor v = transformer.forward(latents, schedule.transformerTimestep(i, batch, dtype, device), ...);
 *     latents = schedule.step(v, i, latents);
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe: the mutable state diffusers keeps (the sigmas, the step index) lives
 * in the returned {@link Schedule} and in the caller's loop counter.
 *
 * <h2>Arithmetic</h2>
 * Every formula is evaluated in the precision and order diffusers uses (NumPy 2 promotion rules):
 * {@code FluxPipeline}'s sigmas in float64, cast to float32, shifted in float32 with {@code e^mu}
 * rounded to float32; the {@code set_timesteps(num_inference_steps)} path in float64, cast at the
 * end. Java's float and double operations are IEEE round-to-nearest like NumPy's, so the results
 * are bit-identical; the one library call, {@code exp}, is {@link StrictMath#exp} (fdlibm, within
 * 1 ulp of glibc's, which is then rounded to float32).
 */
public final class FlowMatchEulerScheduler {
    private final FlowMatchEulerSchedulerConfig config;

    /** A scheduler with the given configuration. */
    public FlowMatchEulerScheduler(FlowMatchEulerSchedulerConfig config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    /** The configuration. */
    public FlowMatchEulerSchedulerConfig config() {
        return config;
    }

    /**
     * {@code FluxPipeline}'s {@code calculate_shift}: {@code mu} for an image of
     * {@code imageSeqLen} packed tokens, a straight line through
     * {@code (base_image_seq_len, base_shift)} and {@code (max_image_seq_len, max_shift)} of this
     * configuration (not clamped: larger images get a larger {@code mu}).
     */
    public double calculateShift(long imageSeqLen) {
        return calculateShift(
                imageSeqLen, config.baseImageSeqLen(), config.maxImageSeqLen(), config.baseShift(), config.maxShift());
    }

    /**
     * {@code calculate_shift(image_seq_len, base_seq_len, max_seq_len, base_shift, max_shift)}, in
     * float64 as Python computes it.
     *
     * @throws IllegalArgumentException if {@code imageSeqLen} is negative or the two lengths are equal
     */
    public static double calculateShift(
            long imageSeqLen, int baseSeqLen, int maxSeqLen, double baseShift, double maxShift) {
        if (imageSeqLen < 0) {
            throw new IllegalArgumentException("imageSeqLen must not be negative, got " + imageSeqLen);
        }
        if (baseSeqLen == maxSeqLen) {
            throw new IllegalArgumentException("baseSeqLen and maxSeqLen must differ, both are " + baseSeqLen);
        }
        double m = (maxShift - baseShift) / (maxSeqLen - baseSeqLen);
        double b = baseShift - m * baseSeqLen;
        return imageSeqLen * m + b;
    }

    /**
     * The sigmas {@code FluxPipeline} passes to {@code set_timesteps}:
     * {@code np.linspace(1.0, 1 / steps, steps)} in float64.
     *
     * @throws IllegalArgumentException if {@code steps < 1}
     */
    public static double[] fluxSigmas(int steps) {
        requireSteps(steps);
        return linspace(1.0, 1.0 / steps, steps);
    }

    /**
     * What {@code FluxPipeline.__call__} does in its step 5: linspace sigmas, {@code mu} from the
     * packed token count, then {@code set_timesteps(sigmas=..., mu=...)}. Without dynamic shifting
     * {@code mu} is computed and ignored, as in diffusers.
     *
     * @param steps       {@code num_inference_steps}, at least 1
     * @param imageSeqLen packed image tokens, {@code (latent h / 2) * (latent w / 2)}
     */
    public Schedule fluxSchedule(int steps, long imageSeqLen) {
        return setTimesteps(fluxSigmas(steps), calculateShift(imageSeqLen));
    }

    /**
     * {@code set_timesteps(sigmas=sigmas, mu=mu)}: custom sigmas (FluxPipeline's path). The sigmas
     * are cast to float32, shifted (dynamically by {@code mu}, or statically by {@code shift}),
     * stretched to {@code shift_terminal} if configured, inverted if configured; timesteps are
     * {@code sigma * num_train_timesteps} in float32, and a terminal sigma (0, or 1 when inverted)
     * is appended.
     *
     * @param sigmas one per step, in (0, 1]; not modified
     * @param mu     the dynamic shift; required with {@code use_dynamic_shifting}, ignored without
     * @throws IllegalArgumentException if {@code sigmas} is empty, {@code mu} is missing or not
     *                                  finite when needed, or {@code shift_terminal} cannot be applied
     */
    public Schedule setTimesteps(double[] sigmas, @Nullable Double mu) {
        Objects.requireNonNull(sigmas, "sigmas");
        requireSteps(sigmas.length);
        double m = requireMu(mu);
        int n = sigmas.length;
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = (float) sigmas[i]; // np.array(sigmas).astype(np.float32)
        }
        if (config.useDynamicShifting()) {
            timeShift32(m, s);
        } else {
            // self.shift * sigmas / (1 + (self.shift - 1) * sigmas): Python floats meet a float32
            // array, so each operation is a float32 one.
            float shift = (float) config.shift();
            float shiftMinusOne = (float) (config.shift() - 1.0);
            for (int i = 0; i < n; i++) {
                s[i] = shift * s[i] / (1f + shiftMinusOne * s[i]);
            }
        }
        if (config.shiftTerminal() != null) {
            stretchToTerminal32(s, config.shiftTerminal());
        }
        return finish(s, mu);
    }

    /**
     * {@code set_timesteps(num_inference_steps=steps, mu=mu)} without custom sigmas (not
     * FluxPipeline's path, which always passes sigmas): timesteps spaced evenly from the training
     * schedule's first to its last, the shift in float64, then cast to float32.
     *
     * @param mu the dynamic shift; required with {@code use_dynamic_shifting}, ignored without
     * @throws IllegalArgumentException if {@code steps < 1} or {@code mu} is missing when needed
     */
    public Schedule setTimesteps(int steps, @Nullable Double mu) {
        requireSteps(steps);
        double m = requireMu(mu);
        int train = config.numTrainTimesteps();
        // __init__: sigmas = linspace(1, train, train)[::-1] / train in float32, statically shifted
        // when dynamic shifting is off; sigma_max and sigma_min are its ends.
        float sigmaMax = 1f;
        float sigmaMin = 1f / train;
        if (!config.useDynamicShifting()) {
            sigmaMax = staticShift32(sigmaMax);
            sigmaMin = staticShift32(sigmaMin);
        }
        // _sigma_to_t: a Python float times the int num_train_timesteps.
        double[] t = linspace((double) sigmaMax * train, (double) sigmaMin * train, steps);
        double[] s = new double[steps];
        for (int i = 0; i < steps; i++) {
            s[i] = t[i] / train;
        }
        if (config.useDynamicShifting()) {
            double e = config.timeShiftType() == TimeShiftType.EXPONENTIAL ? StrictMath.exp(m) : m;
            for (int i = 0; i < steps; i++) {
                s[i] = e / (e + (1 / s[i] - 1));
            }
        } else {
            double shift = config.shift();
            for (int i = 0; i < steps; i++) {
                s[i] = shift * s[i] / (1 + (shift - 1) * s[i]);
            }
        }
        if (config.shiftTerminal() != null) {
            double terminal = config.shiftTerminal();
            double scale = (1 - s[steps - 1]) / (1 - terminal);
            requireStretchable(scale, steps);
            for (int i = 0; i < steps; i++) {
                s[i] = 1 - ((1 - s[i]) / scale);
            }
        }
        float[] f = new float[steps];
        for (int i = 0; i < steps; i++) {
            f[i] = (float) s[i]; // torch.from_numpy(sigmas).to(float32)
        }
        return finish(f, mu);
    }

    private float staticShift32(float sigma) {
        // __init__ runs this as float32 tensor arithmetic with Python-float scalars.
        return (float) config.shift() * sigma / (1f + (float) (config.shift() - 1.0) * sigma);
    }

    /** The float32 time shift of {@code set_timesteps}: {@code e / (e + (1/s - 1) ** 1.0)}. */
    private void timeShift32(double mu, float[] s) {
        // math.exp(mu) (or mu itself) is a Python float; against a float32 array it becomes float32.
        float e = (float) (config.timeShiftType() == TimeShiftType.EXPONENTIAL ? StrictMath.exp(mu) : mu);
        for (int i = 0; i < s.length; i++) {
            // 1 / s: float32 (s = 0 gives inf and a shifted 0, as in NumPy); ** 1.0 is the identity.
            s[i] = e / (e + (1f / s[i] - 1f));
        }
    }

    /** {@code stretch_shift_to_terminal} on a float32 array (NumPy 2: the scalars stay float32). */
    private static void stretchToTerminal32(float[] s, double terminal) {
        int n = s.length;
        float scale = (1f - s[n - 1]) / (float) (1.0 - terminal);
        requireStretchable(scale, n);
        for (int i = 0; i < n; i++) {
            s[i] = 1f - ((1f - s[i]) / scale);
        }
    }

    private static void requireStretchable(double scale, int steps) {
        if (scale == 0 || !Double.isFinite(scale)) {
            // diffusers divides by zero here and returns NaN sigmas.
            throw new IllegalArgumentException("shift_terminal cannot be applied: the last shifted sigma of this "
                    + steps + "-step schedule is 1, so stretching it divides by zero (diffusers would produce NaN"
                    + " sigmas); use at least 2 steps or a configuration without shift_terminal");
        }
    }

    /** Steps 5 and 6 of {@code set_timesteps}: timesteps, inversion, the terminal sigma. */
    private Schedule finish(float[] shifted, @Nullable Double mu) {
        int n = shifted.length;
        float train = config.numTrainTimesteps();
        float[] sigmas = new float[n + 1];
        float[] timesteps = new float[n];
        for (int i = 0; i < n; i++) {
            float s = config.invertSigmas() ? 1f - shifted[i] : shifted[i];
            sigmas[i] = s;
            timesteps[i] = s * train;
        }
        sigmas[n] = config.invertSigmas() ? 1f : 0f;
        return new Schedule(sigmas, timesteps, config.useDynamicShifting() ? mu : null);
    }

    /** The checked {@code mu} with dynamic shifting; 0 (unused) without it, where {@code mu} is ignored. */
    private double requireMu(@Nullable Double mu) {
        if (!config.useDynamicShifting()) {
            return 0;
        }
        if (mu == null || !Double.isFinite(mu)) {
            throw new IllegalArgumentException(
                    "mu must be a finite number when use_dynamic_shifting is true, got " + mu);
        }
        return mu;
    }

    private static void requireSteps(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("the number of inference steps must be at least 1, got " + steps);
        }
    }

    /**
     * {@code numpy.linspace(start, stop, num)} in float64, operation for operation:
     * {@code y = arange(num) * ((stop - start) / (num - 1)) + start}, the last element set to
     * {@code stop}.
     */
    static double[] linspace(double start, double stop, int num) {
        double[] y = new double[num];
        int div = num - 1;
        double delta = stop - start;
        if (div > 0) {
            double step = delta / div;
            for (int i = 0; i < num; i++) {
                // NumPy's denormal guard (gh-5437): divide first, then scale by delta.
                y[i] = (step == 0 ? ((double) i / div) * delta : i * step) + start;
            }
            y[num - 1] = stop;
        } else {
            for (int i = 0; i < num; i++) {
                y[i] = i * delta + start;
            }
        }
        return y;
    }
}
