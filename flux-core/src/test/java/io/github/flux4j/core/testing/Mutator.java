package io.github.flux4j.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Deterministic mutations of a valid input file, for the loader fuzz tests: byte-level ones (flips,
 * random bytes, spliced extreme integers, truncations, insertions, deletions, duplicated runs)
 * and JSON-aware ones (a value replaced by one of the wrong type, a huge, negative or zero
 * number, a deeply nested array, a removed or duplicated key, an emptied container). Every
 * mutant is a function of the seed and the mutant's index only, so a failure is reproduced by its
 * index.
 */
public final class Mutator {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Numbers that break naive size, count and index arithmetic. */
    private static final String[] EXTREME_NUMBERS = {
        "0",
        "-1",
        "1",
        "2",
        "-2147483648",
        "2147483647",
        "2147483648",
        "4294967296",
        "-9223372036854775808",
        "9223372036854775807",
        "18446744073709551616",
        "1e308",
        "-1e308",
        "1e999",
        "1.5",
        "-0.0",
        "0.1",
        "123456789012345678901234567890",
        "1E10",
        "65536",
        "77",
        "3",
        "32",
        "33",
        "127",
        "-32769"
    };
    /** Values of every JSON type, for "wrong type" mutations. */
    private static final String[] WRONG_TYPES = {
        "null",
        "true",
        "false",
        "\"\"",
        "\"x\"",
        "\"-1\"",
        "[]",
        "{}",
        "[1,2]",
        "[\"a\",\"b\"]",
        "[null]",
        "{\"type\":null}",
        "[[]]",
        "\"\\u0000\"",
        "\"\\ud800\""
    };

    private final long seed;

    /** A mutator whose mutants are determined by {@code seed}. */
    public Mutator(long seed) {
        this.seed = seed;
    }

    /** The random stream of mutant {@code index}. */
    public Random random(int index) {
        return new Random(seed * 0x9E3779B97F4A7C15L + index);
    }

    // ------------------------------------------------------------------------------ bytes

    /**
     * A byte-level mutant of {@code base}; {@code hotSpan} bytes at the start (a header) receive
     * most of the edits.
     */
    public byte[] bytes(byte[] base, int index, int hotSpan) {
        Random r = random(index);
        byte[] b = base.clone();
        int n = 1 + r.nextInt(4);
        int kind = r.nextInt(9);
        for (int k = 0; k < n && b.length > 0; k++) {
            int span = Math.max(1, Math.min(b.length, r.nextInt(6) == 0 ? b.length : hotSpan));
            int at = r.nextInt(span);
            switch (kind) {
                case 0 -> b[at] = (byte) r.nextInt(256);
                case 1 -> b[at] ^= (byte) (1 << r.nextInt(8));
                case 2 ->
                    splice(
                            b,
                            at,
                            new long[] {
                                        0,
                                        1,
                                        -1,
                                        Long.MAX_VALUE,
                                        Long.MIN_VALUE,
                                        1L << 32,
                                        1L << 60,
                                        0xFFFF_FFFFL,
                                        0x7FFF_FFFFL,
                                        255
                                    }
                                    [r.nextInt(10)],
                            8);
                case 3 ->
                    splice(
                            b,
                            at,
                            new long[] {0, 1, 2, 3, 4, 5, 8, 10, 0x7F, 0x80, -1, 0x7FFF_FFFF, 0x8000_0000L}
                                    [r.nextInt(13)],
                            4);
                case 4 -> b[at] = (byte) "{}[]\",:\\0-e.1 \u00ff".charAt(r.nextInt(15));
                default -> {}
            }
        }
        return switch (kind) {
            case 5 -> Arrays.copyOf(b, r.nextInt(b.length + 1));
            case 6 -> insert(b, r.nextInt(b.length + 1), randomBytes(r, 1 + r.nextInt(16)));
            case 7 -> delete(b, r.nextInt(b.length + 1), 1 + r.nextInt(32));
            case 8 -> { // a run repeated
                int from = r.nextInt(b.length + 1);
                int len = Math.min(b.length - from, 1 + r.nextInt(64));
                yield insert(b, from, Arrays.copyOfRange(b, from, from + len));
            }
            default -> b;
        };
    }

    private static void splice(byte[] b, int at, long v, int width) {
        for (int j = 0; j < width && at + j < b.length; j++) {
            b[at + j] = (byte) (v >>> (8 * j));
        }
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] x = new byte[n];
        r.nextBytes(x);
        return x;
    }

    private static byte[] insert(byte[] b, int at, byte[] what) {
        byte[] out = new byte[b.length + what.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(what, 0, out, at, what.length);
        System.arraycopy(b, at, out, at + what.length, b.length - at);
        return out;
    }

    private static byte[] delete(byte[] b, int at, int len) {
        int n = Math.min(len, b.length - at);
        byte[] out = new byte[b.length - n];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(b, at + n, out, at, b.length - at - n);
        return out;
    }

    // ------------------------------------------------------------------------------ JSON

    /** A parsed seed for {@link #json}: parse once, mutate many times. */
    public static JsonNode parse(byte[] json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A mutant of a JSON document: three in four are structure-aware edits of one value on a
     * random path (biased to the top levels, where the loader's decisions are), the rest byte-level
     * edits of its text.
     */
    public byte[] json(JsonNode root, byte[] text, int index) {
        Random r = random(index);
        if (r.nextInt(4) == 0) {
            return bytes(text, index, text.length);
        }
        JsonNode copy = root.deepCopy();
        int edits = 1 + (r.nextInt(3) == 0 ? r.nextInt(3) : 0);
        StringBuilder out = new StringBuilder();
        List<Edit> plan = new ArrayList<>();
        for (int e = 0; e < edits; e++) {
            plan.add(new Edit(pickPath(copy, r), r.nextInt(10), r.nextLong()));
        }
        write(copy, new ArrayList<>(), plan, out);
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Values every top-level key (and every element of a top-level array) is set to by {@link #everyKeyHostile}. */
    private static final String[] HOSTILE = {
        "2147483647", "-1", "0", "1e999", "65536", "-2147483648", "4294967296", "null", "\"x\"", "[]", "{}", "0.5"
    };

    /**
     * Systematic mutants: each top-level value of the object {@code root}, and each element of a
     * top-level array, replaced in turn by each of a few hostile values (huge, negative, zero,
     * infinite, fractional, wrong type). Random mutants seldom hit a given key with a given value;
     * these always do.
     */
    public static List<byte[]> everyKeyHostile(JsonNode root) {
        List<byte[]> out = new ArrayList<>();
        if (!root.isObject()) {
            return out;
        }
        List<List<String>> paths = new ArrayList<>();
        for (Map.Entry<String, JsonNode> f : root.properties()) {
            paths.add(List.of(f.getKey()));
            if (f.getValue().isArray()) {
                for (int i = 0; i < Math.min(8, f.getValue().size()); i++) {
                    paths.add(List.of(f.getKey(), "#" + i));
                }
            }
        }
        for (List<String> path : paths) {
            for (String v : HOSTILE) {
                StringBuilder sb = new StringBuilder();
                write(root, new ArrayList<>(), List.of(new Edit(path, LITERAL, 0, v)), sb);
                out.add(sb.toString().getBytes(StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    /** One edit: the node at {@code path} is changed as {@code kind} says, with {@code salt} choosing the details. */
    private record Edit(List<String> path, int kind, long salt, String literal) {
        Edit(List<String> path, int kind, long salt) {
            this(path, kind, salt, null);
        }
    }

    /** The edit kind that writes {@link Edit#literal} in place of the node. */
    private static final int LITERAL = -1;

    /** A random path of keys/indices from the root; each level stops the walk with probability 1/3. */
    private static List<String> pickPath(JsonNode root, Random r) {
        List<String> path = new ArrayList<>();
        JsonNode n = root;
        while (n.isContainerNode() && n.size() > 0 && (path.isEmpty() || r.nextInt(3) != 0)) {
            int i = r.nextInt(n.size());
            if (n.isArray()) {
                path.add("#" + i);
                n = n.get(i);
            } else {
                Iterator<Map.Entry<String, JsonNode>> fields = n.properties().iterator();
                String name = null;
                for (int k = 0; k <= i; k++) {
                    name = fields.next().getKey();
                }
                path.add(name);
                n = n.get(name);
            }
        }
        return path;
    }

    /** Serializes {@code n}, applying the edits aimed at {@code path} (its position). */
    private static void write(JsonNode n, List<String> path, List<Edit> plan, StringBuilder out) {
        for (Edit e : plan) {
            if (e.path.equals(path)) {
                if (replace(n, e, out)) {
                    return;
                }
            }
        }
        if (n.isObject()) {
            out.append('{');
            boolean first = true;
            Edit dup = null;
            Edit drop = null;
            for (Edit e : plan) {
                if (e.path.equals(path) && e.kind == 7) {
                    dup = e;
                }
                if (e.path.equals(path) && e.kind == 8) {
                    drop = e;
                }
            }
            int dropIndex = drop == null || n.size() == 0 ? -1 : (int) Math.floorMod(drop.salt, (long) n.size());
            int k = 0;
            for (Iterator<Map.Entry<String, JsonNode>> it = n.properties().iterator(); it.hasNext(); k++) {
                Map.Entry<String, JsonNode> f = it.next();
                if (k == dropIndex) {
                    continue;
                }
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append(JSON.getNodeFactory().textNode(f.getKey())).append(':');
                path.add(f.getKey());
                write(f.getValue(), path, plan, out);
                path.remove(path.size() - 1);
                if (dup != null && k == 0) { // the first key again, with another value
                    out.append(',')
                            .append(JSON.getNodeFactory().textNode(f.getKey()))
                            .append(':')
                            .append(WRONG_TYPES[(int) Math.floorMod(dup.salt, (long) WRONG_TYPES.length)]);
                }
            }
            out.append('}');
        } else if (n.isArray()) {
            out.append('[');
            for (int i = 0; i < n.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                path.add("#" + i);
                write(n.get(i), path, plan, out);
                path.remove(path.size() - 1);
            }
            out.append(']');
        } else {
            out.append(n.toString());
        }
    }

    /** Writes the replacement of {@code n} for edit {@code e}; false if the edit is structural (kinds 7, 8). */
    private static boolean replace(JsonNode n, Edit e, StringBuilder out) {
        Random r = new Random(e.salt);
        switch (e.kind) {
            case LITERAL -> out.append(e.literal);
            case 0, 1 -> out.append(WRONG_TYPES[r.nextInt(WRONG_TYPES.length)]);
            case 2, 3 -> out.append(EXTREME_NUMBERS[r.nextInt(EXTREME_NUMBERS.length)]);
            case 4 -> { // the same value, deeply nested
                int depth = new int[] {2, 50, 999, 1001, 5000}[r.nextInt(5)];
                out.append("[".repeat(depth))
                        .append(n.isContainerNode() ? "0" : n.toString())
                        .append("]".repeat(depth));
            }
            case 5 -> out.append(n.isObject() ? "{}" : n.isArray() ? "[]" : "\"\"");
            case 6 -> { // a container with one element removed or repeated, a string doubled or emptied
                if (n.isArray() && n.size() > 0) {
                    out.append('[');
                    int skip = r.nextInt(n.size());
                    boolean repeat = r.nextBoolean();
                    boolean first = true;
                    for (int i = 0; i < n.size(); i++) {
                        if (i == skip && !repeat) {
                            continue;
                        }
                        for (int t = 0; t < (i == skip ? 2 : 1); t++) {
                            if (!first) {
                                out.append(',');
                            }
                            first = false;
                            out.append(n.get(i).toString());
                        }
                    }
                    out.append(']');
                } else if (n.isTextual()) {
                    String s = n.textValue();
                    out.append(
                            JSON.getNodeFactory().textNode(r.nextBoolean() ? s + s : s.substring(0, s.length() / 2)));
                } else if (n.isNumber()) {
                    out.append(r.nextBoolean() ? n.asText() + "0000000000" : "-" + n.asText());
                } else {
                    return false;
                }
            }
            case 9 -> out.append("\"").append("x".repeat(1 + r.nextInt(4096))).append("\"");
            default -> {
                return false;
            }
        }
        return true;
    }
}
