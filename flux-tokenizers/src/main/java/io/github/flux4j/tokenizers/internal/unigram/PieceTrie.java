package io.github.flux4j.tokenizers.internal.unigram;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/** A read-only character trie from pieces to ids, for common-prefix searches. */
final class PieceTrie {
    private static final char[] NO_KEYS = new char[0];
    private static final PieceTrie[] NO_KIDS = new PieceTrie[0];

    private char[] keys = NO_KEYS;
    private PieceTrie[] kids = NO_KIDS;
    /** The id of the piece ending here, or -1. */
    int id = -1;

    /** Builds a trie of {@code pieces[i] -> i} for every {@code i} with {@code include[i]}. */
    static PieceTrie build(String[] pieces, boolean[] include) {
        Builder root = new Builder();
        for (int i = 0; i < pieces.length; i++) {
            if (!include[i] || pieces[i].isEmpty()) {
                continue;
            }
            Builder b = root;
            String p = pieces[i];
            for (int k = 0; k < p.length(); k++) {
                b = b.kids.computeIfAbsent(p.charAt(k), c -> new Builder());
            }
            b.id = i; // a later duplicate wins, as in tokenizers' token -> id map
        }
        return root.freeze();
    }

    /** The child for {@code c}, or {@code null}. */
    @Nullable
    PieceTrie child(char c) {
        int i = Arrays.binarySearch(keys, c);
        return i >= 0 ? kids[i] : null;
    }

    private static final class Builder {
        final TreeMap<Character, Builder> kids = new TreeMap<>();
        int id = -1;

        PieceTrie freeze() {
            PieceTrie t = new PieceTrie();
            t.id = id;
            if (!kids.isEmpty()) {
                t.keys = new char[kids.size()];
                t.kids = new PieceTrie[kids.size()];
                int i = 0;
                for (Map.Entry<Character, Builder> e : kids.entrySet()) {
                    t.keys[i] = e.getKey();
                    t.kids[i] = e.getValue().freeze();
                    i++;
                }
            }
            return t;
        }
    }
}
