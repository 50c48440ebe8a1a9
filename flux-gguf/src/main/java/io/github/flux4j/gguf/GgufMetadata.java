package io.github.flux4j.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The key-value metadata of a GGUF file, in file order, with typed accessors.
 *
 * <p>{@code getX(key)} fails with a {@link GgufMetadataException} naming the key when it is
 * missing or has another type; {@code findX(key)} returns empty when it is missing and still
 * fails on a wrong type, so that a mistyped value is never silently ignored.
 */
public final class GgufMetadata {
    private final Map<String, GgufValue> entries;

    /** Metadata holding these entries, in the map's iteration order. */
    public GgufMetadata(Map<String, GgufValue> entries) {
        this.entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }

    /** All entries, in file order. */
    public Map<String, GgufValue> asMap() {
        return entries;
    }

    /** The keys, in file order. */
    public Set<String> keys() {
        return entries.keySet();
    }

    /** Number of entries. */
    public int size() {
        return entries.size();
    }

    /** Whether the key is present. */
    public boolean contains(String key) {
        return entries.containsKey(key);
    }

    /** The raw value, if present. */
    public Optional<GgufValue> find(String key) {
        return Optional.ofNullable(entries.get(key));
    }

    /** The raw value; fails if missing. */
    public GgufValue get(String key) {
        GgufValue v = entries.get(key);
        if (v == null) {
            throw new GgufMetadataException("metadata key '" + key + "' is missing");
        }
        return v;
    }

    /** A STRING value. */
    public String getString(String key) {
        return asString(key, get(key));
    }

    /** A STRING value, if present. */
    public Optional<String> findString(String key) {
        return find(key).map(v -> asString(key, v));
    }

    /** A value of any integer type that fits a long. */
    public long getLong(String key) {
        return asLong(key, get(key));
    }

    /** A value of any integer type that fits a long, if present. */
    public OptionalLong findLong(String key) {
        GgufValue v = entries.get(key);
        return v == null ? OptionalLong.empty() : OptionalLong.of(asLong(key, v));
    }

    /** A value of any integer type that fits an int. */
    public int getInt(String key) {
        return toInt(key, getLong(key));
    }

    /** A value of any integer type that fits an int, if present. */
    public Optional<Integer> findInt(String key) {
        OptionalLong v = findLong(key);
        return v.isPresent() ? Optional.of(toInt(key, v.getAsLong())) : Optional.empty();
    }

    /** A FLOAT32 or FLOAT64 value. */
    public double getDouble(String key) {
        return asDouble(key, get(key));
    }

    /** A FLOAT32 or FLOAT64 value, if present. */
    public OptionalDouble findDouble(String key) {
        GgufValue v = entries.get(key);
        return v == null ? OptionalDouble.empty() : OptionalDouble.of(asDouble(key, v));
    }

    /** A FLOAT32 value. */
    public float getFloat(String key) {
        GgufValue v = get(key);
        if (v instanceof GgufValue.Float32 f) {
            return f.value();
        }
        throw wrongType(key, v, "FLOAT32");
    }

    /** A BOOL value. */
    public boolean getBoolean(String key) {
        return asBoolean(key, get(key));
    }

    /** A BOOL value, if present. */
    public Optional<Boolean> findBoolean(String key) {
        return find(key).map(v -> asBoolean(key, v));
    }

    /** An ARRAY value. */
    public GgufValue.Array getArray(String key) {
        return asArray(key, get(key));
    }

    /** An ARRAY value, if present. */
    public Optional<GgufValue.Array> findArray(String key) {
        return find(key).map(v -> asArray(key, v));
    }

    @Override
    public String toString() {
        return "GgufMetadata" + entries.keySet();
    }

    private static String asString(String key, GgufValue v) {
        if (v instanceof GgufValue.Str s) {
            return s.value();
        }
        throw wrongType(key, v, "STRING");
    }

    private static long asLong(String key, GgufValue v) {
        return GgufValue.integerValue(v)
                .orElseThrow(() -> v instanceof GgufValue.UInt64 u
                        ? new GgufMetadataException("metadata key '" + key + "': UINT64 value " + u.unsignedString()
                                + " does not fit a long")
                        : wrongType(key, v, "an integer type"));
    }

    private static int toInt(String key, long value) {
        if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
            throw new GgufMetadataException("metadata key '" + key + "': value " + value + " does not fit an int");
        }
        return (int) value;
    }

    private static double asDouble(String key, GgufValue v) {
        if (v instanceof GgufValue.Float32 f) {
            return f.value();
        }
        if (v instanceof GgufValue.Float64 f) {
            return f.value();
        }
        throw wrongType(key, v, "FLOAT32 or FLOAT64");
    }

    private static boolean asBoolean(String key, GgufValue v) {
        if (v instanceof GgufValue.Bool b) {
            return b.value();
        }
        throw wrongType(key, v, "BOOL");
    }

    private static GgufValue.Array asArray(String key, GgufValue v) {
        if (v instanceof GgufValue.Array a) {
            return a;
        }
        throw wrongType(key, v, "ARRAY");
    }

    private static GgufMetadataException wrongType(String key, GgufValue v, String expected) {
        return new GgufMetadataException("metadata key '" + key + "' is " + v.type() + ", not " + expected);
    }
}
