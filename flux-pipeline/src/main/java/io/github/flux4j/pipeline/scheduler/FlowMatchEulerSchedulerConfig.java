package io.github.flux4j.pipeline.scheduler;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.json.JsonErrors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * diffusers ignores them.
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

    private static final Logger LOG = LoggerFactory.getLogger(FlowMatchEulerSchedulerConfig.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final Set<String> REFUSED_FLAGS =
            Set.of("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "stochastic_sampling");

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
     * @throws FluxIoException          if the file cannot be read
     * @throws SchedulerConfigException naming the file and field if the content is not usable
     */
    public static FlowMatchEulerSchedulerConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new SchedulerConfigException(file + ": not valid JSON: the file is not UTF-8 text", e);
        } catch (IOException e) {
            throw FluxIoException.of(file, e);
        }
        return parse(text, file.toString());
    }

    /**
     * Parses the JSON text of a {@code scheduler_config.json}.
     *
     * @param source names the text in error messages (a file name, say)
     * @throws SchedulerConfigException naming {@code source} and the field if the content is not usable
     */
    public static FlowMatchEulerSchedulerConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SchedulerConfigException(source + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new SchedulerConfigException(source + ": expected a JSON object");
        }
        Fields f = new Fields(root, source);
        FlowMatchEulerSchedulerConfig d = defaults();
        String className = f.optionalString("_class_name");
        if (className != null && !className.equals(CLASS_NAME)) {
            throw new SchedulerConfigException(source + ": _class_name is '" + className + "', expected '" + CLASS_NAME
                    + "' (the only scheduler FluxPipeline is implemented with here)");
        }
        for (String flag : REFUSED_FLAGS) {
            if (f.bool(flag, false)) {
                throw new SchedulerConfigException(
                        source + ": " + flag + " = true is not supported (FLUX configurations leave it false)");
            }
        }
        String shiftType = f.string("time_shift_type", d.timeShiftType().configValue());
        TimeShiftType type;
        try {
            type = TimeShiftType.fromConfigValue(shiftType);
        } catch (IllegalArgumentException e) {
            throw new SchedulerConfigException(source + ": time_shift_type: " + e.getMessage(), e);
        }
        Double terminal = f.optionalNumber("shift_terminal");
        try {
            FlowMatchEulerSchedulerConfig config = new FlowMatchEulerSchedulerConfig(
                    f.integer("num_train_timesteps", d.numTrainTimesteps()),
                    f.number("shift", d.shift()),
                    f.bool("use_dynamic_shifting", d.useDynamicShifting()),
                    f.number("base_shift", d.baseShift()),
                    f.number("max_shift", d.maxShift()),
                    f.integer("base_image_seq_len", d.baseImageSeqLen()),
                    f.integer("max_image_seq_len", d.maxImageSeqLen()),
                    f.bool("invert_sigmas", d.invertSigmas()),
                    // diffusers tests `if self.config.shift_terminal:`, so 0 means "no terminal".
                    terminal == null || terminal == 0.0 ? null : terminal,
                    type);
            f.logUnknown();
            return config;
        } catch (SchedulerConfigException e) {
            throw new SchedulerConfigException(source + ": " + e.getMessage(), e);
        }
    }

    /** Typed access to the keys of one JSON object; every error names the source and the key. */
    private static final class Fields {
        private static final Set<String> KNOWN = Set.of(
                "num_train_timesteps",
                "shift",
                "use_dynamic_shifting",
                "base_shift",
                "max_shift",
                "base_image_seq_len",
                "max_image_seq_len",
                "invert_sigmas",
                "shift_terminal",
                "use_karras_sigmas",
                "use_exponential_sigmas",
                "use_beta_sigmas",
                "time_shift_type",
                "stochastic_sampling");

        private final JsonNode root;
        private final String source;

        Fields(JsonNode root, String source) {
            this.root = root;
            this.source = source;
        }

        private @Nullable JsonNode present(String key) {
            JsonNode n = root.get(key);
            return n == null || n.isNull() ? null : n;
        }

        private SchedulerConfigException wrong(String key, String expected, JsonNode got) {
            return new SchedulerConfigException(source + ": " + key + " must be " + expected + ", got " + got);
        }

        int integer(String key, int fallback) {
            JsonNode n = present(key);
            if (n == null) {
                if (root.has(key)) {
                    throw wrong(key, "an integer", root.get(key));
                }
                return fallback;
            }
            if (n.isNumber() && n.canConvertToInt() && n.asDouble() == Math.rint(n.asDouble())) {
                return (int) n.asDouble();
            }
            throw wrong(key, "an integer", n);
        }

        double number(String key, double fallback) {
            JsonNode n = present(key);
            if (n == null) {
                if (root.has(key)) {
                    // diffusers stores the null, and FluxPipeline's calculate_shift then fails on it.
                    throw wrong(key, "a number", root.get(key));
                }
                return fallback;
            }
            if (n.isNumber()) {
                return n.asDouble();
            }
            throw wrong(key, "a number", n);
        }

        @Nullable
        Double optionalNumber(String key) {
            JsonNode n = present(key);
            if (n == null) {
                return null;
            }
            if (n.isNumber()) {
                return n.asDouble();
            }
            throw wrong(key, "a number or null", n);
        }

        boolean bool(String key, boolean fallback) {
            JsonNode n = present(key);
            if (n == null) {
                return fallback;
            }
            if (n.isBoolean()) {
                return n.asBoolean();
            }
            throw wrong(key, "true or false", n);
        }

        String string(String key, String fallback) {
            String s = optionalString(key);
            return s == null ? fallback : s;
        }

        @Nullable
        String optionalString(String key) {
            JsonNode n = present(key);
            if (n == null) {
                return null;
            }
            if (n.isTextual()) {
                return n.asText();
            }
            throw wrong(key, "a string", n);
        }

        void logUnknown() {
            for (Map.Entry<String, JsonNode> e : root.properties()) {
                String key = e.getKey();
                if (!key.startsWith("_") && !KNOWN.contains(key)) {
                    LOG.debug("{}: ignoring unknown scheduler key '{}'", source, key);
                }
            }
        }
    }
}
