package io.github.flux4j.core.doctor;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A dotted numeric version such as {@code 9.19.0} or {@code 580.95.05}, compared part by part
 * (missing parts count as 0, so {@code 9.19 == 9.19.0}).
 *
 * @param parts the numbers, at least one, none negative
 */
public record NumericVersion(List<Integer> parts) implements Comparable<NumericVersion> {
    private static final Pattern DOTTED = Pattern.compile("\\d+(?:\\.\\d+)*");

    /**
     * Validates and copies the parts.
     *
     * @throws IllegalArgumentException if there are none or one is negative
     */
    public NumericVersion {
        parts = List.copyOf(parts);
        if (parts.isEmpty() || parts.stream().anyMatch(p -> p < 0)) {
            throw new IllegalArgumentException("version parts must be non-empty and non-negative, got " + parts);
        }
    }

    /**
     * Parses {@code "9.19.0"}.
     *
     * @throws IllegalArgumentException if {@code text} is not dotted decimal numbers
     */
    public static NumericVersion parse(String text) {
        if (!DOTTED.matcher(text).matches()) {
            throw new IllegalArgumentException("not a dotted numeric version: '" + text + "'");
        }
        List<Integer> parts = new ArrayList<>();
        for (String p : text.split("\\.")) {
            try {
                parts.add(Integer.parseInt(p));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("version part too large in '" + text + "'", e);
            }
        }
        return new NumericVersion(parts);
    }

    /** The first dotted number in {@code text}, if any (e.g. the driver version in a banner line). */
    public static Optional<NumericVersion> find(String text, Pattern around) {
        Matcher m = around.matcher(text);
        if (!m.find()) {
            return Optional.empty();
        }
        try {
            return Optional.of(parse(m.group(1)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The first part. */
    public int major() {
        return parts.get(0);
    }

    /** True if this is at least {@code other}. */
    public boolean atLeast(NumericVersion other) {
        return compareTo(other) >= 0;
    }

    @Override
    public int compareTo(NumericVersion o) {
        int n = Math.max(parts.size(), o.parts.size());
        for (int i = 0; i < n; i++) {
            int a = i < parts.size() ? parts.get(i) : 0;
            int b = i < o.parts.size() ? o.parts.get(i) : 0;
            if (a != b) {
                return Integer.compare(a, b);
            }
        }
        return 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NumericVersion v && compareTo(v) == 0;
    }

    @Override
    public int hashCode() {
        List<Integer> trimmed = new ArrayList<>(parts);
        while (trimmed.size() > 1 && trimmed.get(trimmed.size() - 1) == 0) {
            trimmed.remove(trimmed.size() - 1);
        }
        return trimmed.hashCode();
    }

    /** The dotted form, e.g. {@code 9.19.0}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int p : parts) {
            if (sb.length() > 0) {
                sb.append('.');
            }
            sb.append(p);
        }
        return sb.toString();
    }
}
