package io.github.flux4j.core.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.json.JsonErrors;
import io.github.flux4j.core.weights.source.WeightException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Typed reads from a transformers {@code config.json} parsed into a map, with transformers'
 * defaults for absent keys and messages that name the file and key on a wrong type.
 *
 * @param values the parsed JSON object
 * @param where  what to name in messages (usually the file)
 */
public record HfConfig(Map<String, Object> values, String where) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Validates the fields. */
    public HfConfig {
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(where, "where");
    }

    /**
     * Reads a {@code config.json}.
     *
     * @throws WeightException if it is not a JSON object
     * @throws FluxIoException if it cannot be read
     */
    public static HfConfig read(Path file) {
        try {
            Map<String, Object> map =
                    JSON.readValue(file.toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
            return new HfConfig(map, file.toString());
        } catch (JsonProcessingException e) {
            throw new WeightException(file + " is not a JSON object: " + JsonErrors.describe(e), e);
        } catch (IOException e) {
            throw FluxIoException.of(file, e);
        }
    }

    /** True if the key is present and not null. */
    public boolean has(String key) {
        return values.get(key) != null;
    }

    /**
     * The nested object {@code key} (as {@code text_config} in a full CLIP config), or null if
     * absent.
     *
     * @throws WeightException if present but not an object
     */
    public @Nullable HfConfig child(String key) {
        Object v = values.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new WeightException(where + ": \"" + key + "\" is not an object");
        }
        Map<String, Object> copy = new LinkedHashMap<>();
        m.forEach((k, val) -> copy.put(String.valueOf(k), val));
        return new HfConfig(copy, where + " (" + key + ")");
    }

    /**
     * The integer {@code key}, or {@code fallback} when absent or null.
     *
     * @throws WeightException if present but not an integer, or outside the {@code int} range
     */
    public int getInt(String key, int fallback) {
        Object v = values.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof java.math.BigInteger) {
            java.math.BigInteger b = new java.math.BigInteger(v.toString());
            if (b.bitLength() < 32) {
                return b.intValue();
            }
            throw new WeightException(where + ": \"" + key + "\" is " + v + ", outside the 32-bit integer range");
        }
        throw new WeightException(where + ": \"" + key + "\" must be an integer, got " + v);
    }

    /**
     * The number {@code key}, or {@code fallback} when absent or null.
     *
     * @throws WeightException if present but not a finite number
     */
    public double getDouble(String key, double fallback) {
        Object v = values.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Number n) {
            double d = n.doubleValue();
            if (!Double.isFinite(d)) { // 1e999 parses as infinity
                throw new WeightException(where + ": \"" + key + "\" must be a finite number, got " + v);
            }
            return d;
        }
        throw new WeightException(where + ": \"" + key + "\" must be a number, got " + v);
    }

    /**
     * The string {@code key}, or {@code fallback} when absent or null.
     *
     * @throws WeightException if present but not a string
     */
    public String getString(String key, String fallback) {
        Object v = values.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof String s) {
            return s;
        }
        throw new WeightException(where + ": \"" + key + "\" must be a string, got " + v);
    }
}
