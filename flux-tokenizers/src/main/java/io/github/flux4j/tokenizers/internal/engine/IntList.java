package io.github.flux4j.tokenizers.internal.engine;

import java.util.Arrays;

/** A growable list of {@code int}s, so that token ids are not boxed. Not thread-safe. */
public final class IntList {
    private int[] values;
    private int size;

    /** An empty list. */
    public IntList() {
        this(16);
    }

    /** An empty list with room for {@code capacity} values. */
    public IntList(int capacity) {
        values = new int[Math.max(capacity, 4)];
    }

    /** Appends one value. */
    public void add(int value) {
        if (size == values.length) {
            values = Arrays.copyOf(values, values.length * 2);
        }
        values[size++] = value;
    }

    /** Appends all of {@code other}. */
    public void addAll(int[] other) {
        for (int v : other) {
            add(v);
        }
    }

    /** The value at {@code index}. */
    public int get(int index) {
        if (index >= size) {
            throw new IndexOutOfBoundsException(index);
        }
        return values[index];
    }

    /** The number of values. */
    public int size() {
        return size;
    }

    /** Empties the list, keeping its storage. */
    public void clear() {
        size = 0;
    }

    /** A copy of the values. */
    public int[] toArray() {
        return Arrays.copyOf(values, size);
    }
}
