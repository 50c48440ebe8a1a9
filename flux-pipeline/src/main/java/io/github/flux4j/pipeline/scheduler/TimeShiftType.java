package io.github.flux4j.pipeline.scheduler;

import java.util.Locale;

/**
 * How the dynamic (resolution-dependent) shift bends the sigmas: diffusers' {@code time_shift_type}.
 * With {@code mu} the shift and {@code s} a sigma, both keep {@code s = 1} at 1 and {@code s = 0}
 * at 0.
 */
public enum TimeShiftType {
    /** {@code e^mu / (e^mu + (1/s - 1))}, the default and what FLUX uses. */
    EXPONENTIAL("exponential"),
    /** {@code mu / (mu + (1/s - 1))}. */
    LINEAR("linear");

    private final String configValue;

    TimeShiftType(String configValue) {
        this.configValue = configValue;
    }

    /** The spelling in {@code scheduler_config.json}. */
    public String configValue() {
        return configValue;
    }

    /**
     * The type spelled {@code value} in {@code scheduler_config.json} (exact, lower case, as
     * diffusers compares it).
     *
     * @throws IllegalArgumentException for any other spelling, listing the accepted ones
     */
    public static TimeShiftType fromConfigValue(String value) {
        for (TimeShiftType t : values()) {
            if (t.configValue.equals(value)) {
                return t;
            }
        }
        throw new IllegalArgumentException("'" + value + "' is not a time shift type; expected one of "
                + EXPONENTIAL.configValue + ", " + LINEAR.configValue
                + (value.toLowerCase(Locale.ROOT).equals(value) ? "" : " (lower case)"));
    }
}
