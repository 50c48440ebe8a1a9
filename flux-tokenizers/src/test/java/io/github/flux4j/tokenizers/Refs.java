package io.github.flux4j.tokenizers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The tiny test tokenizers and the reference output of tools/reference/tokenizer_refs.py. */
final class Refs {
    private Refs() {}

    static Path resource(String name) {
        try {
            return Path.of(Refs.class.getResource("/tokenizers/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode json(String name) {
        try {
            return new ObjectMapper().readTree(resource("refs/" + name).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> texts(JsonNode refs) {
        List<String> out = new ArrayList<>();
        refs.get("texts").forEach(t -> out.add(t.asText()));
        return out;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(t -> out.add(t.asText()));
        return out;
    }

    /** A row of the reference as transformers padded it: the real ids, then padding to {@code length}. */
    static int[] padded(int[] real, int length, int pad) {
        int[] row = java.util.Arrays.copyOf(real, Math.max(length, real.length));
        java.util.Arrays.fill(row, real.length, row.length, pad);
        return row;
    }

    static int[] mask(int real, int length) {
        int[] m = new int[Math.max(real, length)];
        java.util.Arrays.fill(m, 0, real, 1);
        return m;
    }

    /** A short printable label for a prompt, for assertion messages. */
    static String label(int i, String text) {
        String s = text.length() > 40 ? text.substring(0, 40) + "…" : text;
        StringBuilder sb = new StringBuilder("prompt " + i + " \"");
        s.codePoints().forEach(cp -> {
            if (cp < 0x20 || cp == 0x7F) {
                sb.append(String.format("\\x%02x", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.append('"').toString();
    }
}
