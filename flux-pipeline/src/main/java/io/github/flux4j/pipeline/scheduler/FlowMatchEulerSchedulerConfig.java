package io.github.flux4j.pipeline.scheduler;

import static java.util.Objects.requireNonNullElse;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.github.flux4j.core.json.ConfigReader;
import io.github.flux4j.core.json.ConfigReader.NullRefused;
import io.github.flux4j.core.json.ConfigReader.WholeNumber;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * The settings of diffusers' {@code FlowMatchEulerDiscreteScheduler}, as stored in a model's
 * {@code scheduler/scheduler_config.json}. Field names are the JSON keys in camelCase; absent keys
 * take diffusers' constructor defaults ({@link #defaults()}).
 *
 * <p>Options diffusers has but FLUX never uses are refused when switched on, with a message naming
 * the key: {@code use_karras_sigmas}, {@code use_exponential_sigmas}, {@code use_beta_sigmas}
 * (these resample the schedule) and {@code stochastic_sampling} (draws noise in every step).
 * Keys starting with {@code _} are metadata; {@code _class_name}, when present, must be
 * {@code FlowMatchEulerDiscreteScheduler}. Other unknown keys are ignored with a debug log, as
 * diffusers ignores them. The file is read by {@link ConfigReader}, which binds it to
 * the keys of its private {@code @JsonCreator} factory.
 *
 * @param numTrainTimesteps  {@code num_train_timesteps}: timesteps are {@code sigma} times this
 * @param shift              {@code shift}: the static shift, used when dynamic shifting is off
 * @param useDynamicShifting {@code use_dynamic_shifting}: shift by the {@code mu} of the image size
 * @param baseShift          {@code base_shift}: {@code mu} at {@code baseImageSeqLen} tokens
 * @param maxShift           {@code max_shift}: {@code mu} at {@code maxImageSeqLen} tokens
 * @param baseImageSeqLen    {@code base_image_seq_len}
 * @param maxImageSeqLen     {@code max_image_seq_len}
 * @param invertSigmas       {@code invert_sigmas}: use {@code 1 - sigma} (Mochi), terminal sigma 1
 * @param shiftTerminal      {@code shift_terminal}: stretch the schedule to end at this sigma;
 *                           null (or 0, which diffusers treats as unset) for none
 * @param timeShiftType      {@code time_shift_type}
 */
public record FlowMatchEulerSchedulerConfig(
        int numTrainTimesteps,
        double shift,
        boolean useDynamicShifting,
        double baseShift,
        double maxShift,
        int baseImageSeqLen,
        int maxImageSeqLen,
        boolean invertSigmas,
        @Nullable Double shiftTerminal,
        TimeShiftType timeShiftType) {

    /** The largest static {@code shift} accepted: larger ones overflow the float32 schedule. */
    public static final double MAX_STATIC_SHIFT = 1e4;
    /** The largest {@code |base_shift|} and {@code |max_shift|} accepted ({@code exp(mu)} stays finite in float32). */
    public static final double MAX_DYNAMIC_SHIFT = 20;

    /** The class diffusers instantiates from this configuration. */
    public static final String CLASS_NAME = "FlowMatchEulerDiscreteScheduler";

    /** Reads the file: a key given twice is not valid JSON. */
    private static final ConfigReader CONFIGS = ConfigReader.of(
                    (source, problem, cause) -> new SchedulerConfigException(source + ": " + problem, cause))
            .rejectingDuplicateKeys();

    /**
     * Validates the values.
     *
     * @throws SchedulerConfigException naming the first field out of range
     */
    public FlowMatchEulerSchedulerConfig {
        if (timeShiftType == null) {
            throw new SchedulerConfigException("time_shift_type must not be null");
        }
        if (numTrainTimesteps <= 0) {
            throw new SchedulerConfigException("num_train_timesteps must be positive, got " + numTrainTimesteps);
        }
        // The schedule is computed in float32 as diffusers does; beyond these bounds it overflows
        // to infinities and NaNs (FLUX uses shift 1 or 3, base/max shift 0.5 and 1.15).
        if (!(shift > 0) || !(shift <= MAX_STATIC_SHIFT)) {
            throw new SchedulerConfigException("shift must be in (0, " + MAX_STATIC_SHIFT + "], got " + shift);
        }
        if (!(Math.abs(baseShift) <= MAX_DYNAMIC_SHIFT) || !(Math.abs(maxShift) <= MAX_DYNAMIC_SHIFT)) {
            throw new SchedulerConfigException("base_shift and max_shift must be in [-" + MAX_DYNAMIC_SHIFT + ", "
                    + MAX_DYNAMIC_SHIFT + "] (exp(mu) is computed in float32), got " + baseShift + " and " + maxShift);
        }
        if (baseImageSeqLen <= 0 || maxImageSeqLen <= baseImageSeqLen) {
            throw new SchedulerConfigException("need 0 < base_image_seq_len < max_image_seq_len (calculate_shift "
                    + "divides by their difference), got " + baseImageSeqLen + " and " + maxImageSeqLen);
        }
        if (shiftTerminal != null && !(shiftTerminal >= 0 && shiftTerminal < 1)) {
            throw new SchedulerConfigException("shift_terminal must be in [0, 1), got " + shiftTerminal);
        }
    }

    /** diffusers' constructor defaults (static shift 1.0, that is no shift). */
    public static FlowMatchEulerSchedulerConfig defaults() {
        return new FlowMatchEulerSchedulerConfig(
                1000, 1.0, false, 0.5, 1.15, 256, 4096, false, null, TimeShiftType.EXPONENTIAL);
    }

    /** FLUX.1-dev's {@code scheduler_config.json}: dynamic exponential shift from 0.5 to 1.15. */
    public static FlowMatchEulerSchedulerConfig fluxDev() {
        return new FlowMatchEulerSchedulerConfig(
                1000, 3.0, true, 0.5, 1.15, 256, 4096, false, null, TimeShiftType.EXPONENTIAL);
    }

    /** FLUX.1-schnell's {@code scheduler_config.json}: no shift at all (static shift 1.0). */
    public static FlowMatchEulerSchedulerConfig fluxSchnell() {
        return new FlowMatchEulerSchedulerConfig(
                1000, 1.0, false, 0.5, 1.15, 256, 4096, false, null, TimeShiftType.EXPONENTIAL);
    }

    /**
     * Reads a {@code scheduler_config.json}.
     *
     * @throws io.github.flux4j.FluxIoException        if the file cannot be read
     * @throws SchedulerConfigException naming the file and field if the content is not usable
     */
    public static FlowMatchEulerSchedulerConfig read(Path file) {
        return CONFIGS.read(file, FlowMatchEulerSchedulerConfig.class);
    }

    /**
     * Parses the JSON text of a {@code scheduler_config.json}.
     *
     * @param source names the text in error messages (a file name, say)
     * @throws SchedulerConfigException naming {@code source} and the field if the content is not usable
     */
    public static FlowMatchEulerSchedulerConfig parse(String json, String source) {
        return CONFIGS.parse(json, source, FlowMatchEulerSchedulerConfig.class);
    }

    /**
     * The file's keys, as {@link ConfigReader} binds them: absent keys take {@link #defaults()};
     * a {@code null} number is refused (diffusers stores it, and FluxPipeline's
     * {@code calculate_shift} then fails on it), while a {@code null} flag, string or
     * {@code shift_terminal} counts as absent. Integers may be written as {@code 1000.0}.
     */
    @JsonCreator
    private static FlowMatchEulerSchedulerConfig fromKeys(
            @JsonProperty("_class_name") @Nullable String className,
            @JsonProperty("num_train_timesteps") @NullRefused @WholeNumber @Nullable Integer numTrainTimesteps,
            @JsonProperty("shift") @NullRefused @Nullable Double shift,
            @JsonProperty("use_dynamic_shifting") @Nullable Boolean useDynamicShifting,
            @JsonProperty("base_shift") @NullRefused @Nullable Double baseShift,
            @JsonProperty("max_shift") @NullRefused @Nullable Double maxShift,
            @JsonProperty("base_image_seq_len") @NullRefused @WholeNumber @Nullable Integer baseImageSeqLen,
            @JsonProperty("max_image_seq_len") @NullRefused @WholeNumber @Nullable Integer maxImageSeqLen,
            @JsonProperty("invert_sigmas") @Nullable Boolean invertSigmas,
            @JsonProperty("shift_terminal") @Nullable Double shiftTerminal,
            @JsonProperty("time_shift_type") @Nullable String timeShiftType,
            @JsonProperty("use_karras_sigmas") @Nullable Boolean useKarrasSigmas,
            @JsonProperty("use_exponential_sigmas") @Nullable Boolean useExponentialSigmas,
            @JsonProperty("use_beta_sigmas") @Nullable Boolean useBetaSigmas,
            @JsonProperty("stochastic_sampling") @Nullable Boolean stochasticSampling) {
        if (className != null && !className.equals(CLASS_NAME)) {
            throw new SchedulerConfigException("_class_name is '" + className + "', expected '" + CLASS_NAME
                    + "' (the only scheduler FluxPipeline is implemented with here)");
        }
        refuse("use_karras_sigmas", useKarrasSigmas);
        refuse("use_exponential_sigmas", useExponentialSigmas);
        refuse("use_beta_sigmas", useBetaSigmas);
        refuse("stochastic_sampling", stochasticSampling);
        FlowMatchEulerSchedulerConfig d = defaults();
        TimeShiftType type;
        try {
            type = timeShiftType == null ? d.timeShiftType() : TimeShiftType.fromConfigValue(timeShiftType);
        } catch (IllegalArgumentException e) {
            throw new SchedulerConfigException("time_shift_type: " + e.getMessage(), e);
        }
        return new FlowMatchEulerSchedulerConfig(
                requireNonNullElse(numTrainTimesteps, d.numTrainTimesteps()),
                requireNonNullElse(shift, d.shift()),
                requireNonNullElse(useDynamicShifting, d.useDynamicShifting()),
                requireNonNullElse(baseShift, d.baseShift()),
                requireNonNullElse(maxShift, d.maxShift()),
                requireNonNullElse(baseImageSeqLen, d.baseImageSeqLen()),
                requireNonNullElse(maxImageSeqLen, d.maxImageSeqLen()),
                requireNonNullElse(invertSigmas, d.invertSigmas()),
                // diffusers tests `if self.config.shift_terminal:`, so 0 means "no terminal".
                shiftTerminal == null || shiftTerminal == 0.0 ? null : shiftTerminal,
                type);
    }

    private static void refuse(String flag, @Nullable Boolean value) {
        if (Boolean.TRUE.equals(value)) {
            throw new SchedulerConfigException(flag + " = true is not supported (FLUX configurations leave it false)");
        }
    }
}
