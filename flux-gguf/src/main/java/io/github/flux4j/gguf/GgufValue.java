package io.github.flux4j.gguf;

import java.util.List;
import java.util.Objects;

/**
 * One GGUF metadata value. The record per type keeps the file's exact type (a UINT32 stays a
 * {@link UInt32}) so that a file can be written back unchanged; the unsigned types hold their
 * raw bits in the next-wider or same-width Java primitive, with accessors that widen them.
 */
public sealed interface GgufValue {

    /** The value's type as stored in the file. */
    GgufValueType type();

    /** This value as a plain Java object: a boxed number, Boolean, String or a List of those. */
    Object toJava();

    /** An unsigned 8-bit integer. */
    record UInt8(byte bits) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.UINT8;
        }

        public int value() {
            return bits & 0xFF;
        }

        public Object toJava() {
            return value();
        }
    }

    /** A signed 8-bit integer. */
    record Int8(byte value) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.INT8;
        }

        public Object toJava() {
            return value;
        }
    }

    /** An unsigned 16-bit integer. */
    record UInt16(short bits) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.UINT16;
        }

        public int value() {
            return bits & 0xFFFF;
        }

        public Object toJava() {
            return value();
        }
    }

    /** A signed 16-bit integer. */
    record Int16(short value) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.INT16;
        }

        public Object toJava() {
            return value;
        }
    }

    /** An unsigned 32-bit integer. */
    record UInt32(int bits) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.UINT32;
        }

        public long value() {
            return bits & 0xFFFF_FFFFL;
        }

        public Object toJava() {
            return value();
        }
    }

    /** A signed 32-bit integer. */
    record Int32(int value) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.INT32;
        }

        public Object toJava() {
            return value;
        }
    }

    /** An unsigned 64-bit integer; {@link #bits()} are the raw two's-complement bits. */
    record UInt64(long bits) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.UINT64;
        }
        /** The value as a decimal string (it may exceed {@code Long.MAX_VALUE}). */
        public String unsignedString() {
            return Long.toUnsignedString(bits);
        }

        public Object toJava() {
            return bits >= 0 ? (Object) bits : new java.math.BigInteger(unsignedString());
        }
    }

    /** A signed 64-bit integer. */
    record Int64(long value) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.INT64;
        }

        public Object toJava() {
            return value;
        }
    }

    /** A 32-bit float. */
    record Float32(float value) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.FLOAT32;
        }

        public Object toJava() {
            return value;
        }
    }

    /** A 64-bit float. */
    record Float64(double value) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.FLOAT64;
        }

        public Object toJava() {
            return value;
        }
    }

    /** A boolean (one byte, 0 or 1). */
    record Bool(boolean value) implements GgufValue {
        public GgufValueType type() {
            return GgufValueType.BOOL;
        }

        public Object toJava() {
            return value;
        }
    }

    /** A UTF-8 string. */
    record Str(String value) implements GgufValue {
        public Str {
            Objects.requireNonNull(value, "value");
        }

        public GgufValueType type() {
            return GgufValueType.STRING;
        }

        public Object toJava() {
            return value;
        }
    }

    /**
     * An array: every element has {@code elementType}, which may itself be {@code ARRAY}
     * (nested arrays).
     */
    record Array(GgufValueType elementType, List<GgufValue> elements) implements GgufValue {
        public Array {
            Objects.requireNonNull(elementType, "elementType");
            elements = List.copyOf(elements);
            for (GgufValue e : elements) {
                if (e.type() != elementType) {
                    throw new IllegalArgumentException(
                            "array of " + elementType + " cannot hold a " + e.type() + " element");
                }
            }
        }

        public GgufValueType type() {
            return GgufValueType.ARRAY;
        }

        public Object toJava() {
            return elements.stream().map(GgufValue::toJava).toList();
        }

        /** Number of elements. */
        public int size() {
            return elements.size();
        }

        /** The elements as strings; fails unless this is an array of STRING. */
        public List<String> asStrings() {
            requireElementType(GgufValueType.STRING);
            return elements.stream().map(e -> ((Str) e).value()).toList();
        }

        /** The elements as longs; fails unless this is an array of an integer type that fits a long. */
        public long[] asLongs() {
            long[] out = new long[elements.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = GgufValue.integerValue(elements.get(i))
                        .orElseThrow(() ->
                                new GgufMetadataException("array of " + elementType + " is not an array of integers"));
            }
            return out;
        }

        /** The elements as floats; fails unless this is an array of FLOAT32. */
        public float[] asFloats() {
            requireElementType(GgufValueType.FLOAT32);
            float[] out = new float[elements.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = ((Float32) elements.get(i)).value();
            }
            return out;
        }

        private void requireElementType(GgufValueType expected) {
            if (elementType != expected) {
                throw new GgufMetadataException("array of " + elementType + " is not an array of " + expected);
            }
        }
    }

    /** A STRING value. */
    static GgufValue of(String value) {
        return new Str(value);
    }

    /** An INT32 value. */
    static GgufValue of(int value) {
        return new Int32(value);
    }

    /** An INT64 value. */
    static GgufValue of(long value) {
        return new Int64(value);
    }

    /** A FLOAT32 value. */
    static GgufValue of(float value) {
        return new Float32(value);
    }

    /** A FLOAT64 value. */
    static GgufValue of(double value) {
        return new Float64(value);
    }

    /** A BOOL value. */
    static GgufValue of(boolean value) {
        return new Bool(value);
    }

    /** A UINT32 value; {@code value} must be in [0, 2^32). */
    static GgufValue uint32(long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("UINT32 value out of range: " + value);
        }
        return new UInt32((int) value);
    }

    /** An array of STRING. */
    static GgufValue strings(List<String> values) {
        return new Array(
                GgufValueType.STRING, values.stream().map(GgufValue::of).toList());
    }

    /** An array of INT32. */
    static GgufValue int32s(int... values) {
        return new Array(
                GgufValueType.INT32,
                java.util.Arrays.stream(values).mapToObj(GgufValue::of).toList());
    }

    /** An array of FLOAT32. */
    static GgufValue float32s(float... values) {
        GgufValue[] out = new GgufValue[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = new Float32(values[i]);
        }
        return new Array(GgufValueType.FLOAT32, List.of(out));
    }

    /**
     * The value of any integer type as a long, if it is one and fits (a UINT64 above
     * {@code Long.MAX_VALUE} does not).
     */
    static java.util.OptionalLong integerValue(GgufValue v) {
        if (v instanceof UInt8 x) return java.util.OptionalLong.of(x.value());
        if (v instanceof Int8 x) return java.util.OptionalLong.of(x.value());
        if (v instanceof UInt16 x) return java.util.OptionalLong.of(x.value());
        if (v instanceof Int16 x) return java.util.OptionalLong.of(x.value());
        if (v instanceof UInt32 x) return java.util.OptionalLong.of(x.value());
        if (v instanceof Int32 x) return java.util.OptionalLong.of(x.value());
        if (v instanceof Int64 x) return java.util.OptionalLong.of(x.value());
        if (v instanceof UInt64 x && x.bits() >= 0) return java.util.OptionalLong.of(x.bits());
        return java.util.OptionalLong.empty();
    }
}
