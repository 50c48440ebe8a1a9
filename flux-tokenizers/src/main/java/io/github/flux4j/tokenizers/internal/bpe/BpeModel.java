package io.github.flux4j.tokenizers.internal.bpe;

import io.github.flux4j.tokenizers.internal.engine.IntList;
import io.github.flux4j.tokenizers.internal.engine.TokenModel;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * A BPE model as {@code tokenizers}' {@code BPE}: a word is split into characters (the last one
 * with the end-of-word suffix, e.g. CLIP's {@code </w>}), then the adjacent pair with the lowest
 * merge rank is merged, leftmost first, until no pair can be merged. Results are cached per word.
 * Immutable apart from the cache; thread-safe.
 */
public final class BpeModel implements TokenModel {
    /** As {@code tokenizers}: at most this many cached words, and only words of under 256 chars. */
    private static final int CACHE_CAPACITY = 10_000;

    private static final int CACHE_MAX_WORD = 256;

    private final Map<String, Integer> vocab;
    private final Map<Integer, String> tokens;
    /** (left id, right id) -> rank << 32 | merged id. */
    private final Map<Long, Long> merges;

    private final String prefix;
    private final String suffix;
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param vocab token -> id
     * @param merges the merges by rank, each {left, right}
     * @param continuingSubwordPrefix prefix of non-initial symbols ("" for CLIP)
     * @param endOfWordSuffix suffix of a word's last symbol ({@code "</w>"} for CLIP)
     * @param unkId id for symbols not in the vocabulary, -1 to fail on them
     * @param fuseUnk whether consecutive unknown symbols become one {@code unkId}
     * @param ignoreMerges whether a word found whole in the vocabulary skips merging
     * @throws IllegalArgumentException if a merge names a token missing from the vocabulary
     */
    public BpeModel(
            Map<String, Integer> vocab,
            List<String[]> merges,
            String continuingSubwordPrefix,
            String endOfWordSuffix,
            int unkId,
            boolean fuseUnk,
            boolean ignoreMerges) {
        this.vocab = Map.copyOf(vocab);
        // A map, not an array indexed by id: ids may have gaps, and a corrupt id of 2^31-1 must not
        // allocate gigabytes.
        Map<Integer, String> byId = new HashMap<>(vocab.size() * 2);
        vocab.forEach((t, id) -> {
            if (id < 0) {
                throw new IllegalArgumentException("token \"" + t + "\" has the negative id " + id);
            }
            byId.putIfAbsent(id, t);
        });
        this.tokens = Map.copyOf(byId);
        this.prefix = continuingSubwordPrefix;
        this.suffix = endOfWordSuffix;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
        Map<Long, Long> m = new HashMap<>(merges.size() * 2);
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] pair = merges.get(rank);
            Integer a = vocab.get(pair[0]);
            Integer b = vocab.get(pair[1]);
            if (a == null || b == null) {
                throw new IllegalArgumentException("merge " + (rank + 1) + " (\"" + pair[0] + " " + pair[1] + "\"): \""
                        + (a == null ? pair[0] : pair[1]) + "\" is not in the vocabulary");
            }
            String right =
                    !prefix.isEmpty() && pair[1].startsWith(prefix) ? pair[1].substring(prefix.length()) : pair[1];
            Integer merged = vocab.get(pair[0] + right);
            if (merged == null) {
                throw new IllegalArgumentException("merge " + (rank + 1) + " (\"" + pair[0] + " " + pair[1]
                        + "\"): the merged token \"" + pair[0] + right + "\" is not in the vocabulary");
            }
            m.putIfAbsent(pairKey(a, b), ((long) rank << 32) | merged);
        }
        this.merges = m;
    }

    private static long pairKey(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    @Override
    public void tokenize(String word, IntList out) {
        if (word.isEmpty()) {
            return;
        }
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
                out.add(id);
                return;
            }
        }
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = merge(word);
            if (word.length() < CACHE_MAX_WORD && cache.size() < CACHE_CAPACITY) {
                cache.put(word, ids);
            }
        }
        out.addAll(ids);
    }

    private int[] merge(String word) {
        int n = word.codePointCount(0, word.length());
        int[] id = new int[n];
        int count = 0;
        boolean prevUnk = false;
        for (int i = 0, k = 0; i < word.length(); k++) {
            int cp = word.codePointAt(i);
            int len = Character.charCount(cp);
            String s = word.substring(i, i + len);
            if (k > 0 && !prefix.isEmpty()) {
                s = prefix + s;
            }
            if (i + len == word.length()) {
                s = s + suffix;
            }
            i += len;
            Integer v = vocab.get(s);
            if (v != null) {
                id[count++] = v;
                prevUnk = false;
            } else if (unkId >= 0) {
                if (!(fuseUnk && prevUnk)) {
                    id[count++] = unkId;
                }
                prevUnk = true;
            } else {
                throw new IllegalArgumentException(
                        "symbol \"" + s + "\" is not in the vocabulary and there is no unknown token");
            }
        }
        // Symbols as a doubly linked list; merges by (rank, position) from a heap, as tokenizers' Word::merge_all.
        int[] prev = new int[count];
        int[] next = new int[count];
        boolean[] gone = new boolean[count];
        for (int i = 0; i < count; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        PriorityQueue<long[]> heap =
                new PriorityQueue<>((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]));
        for (int i = 0; i + 1 < count; i++) {
            Long m = merges.get(pairKey(id[i], id[i + 1]));
            if (m != null) {
                heap.add(new long[] {m >>> 32, i, m & 0xFFFFFFFFL});
            }
        }
        int remaining = count;
        while (!heap.isEmpty()) {
            long[] top = heap.poll();
            int pos = (int) top[1];
            int newId = (int) top[2];
            if (gone[pos] || next[pos] == -1) {
                continue;
            }
            int right = next[pos];
            Long m = merges.get(pairKey(id[pos], id[right]));
            if (m == null || (int) (m & 0xFFFFFFFFL) != newId) {
                continue;
            }
            id[pos] = newId;
            gone[right] = true;
            next[pos] = next[right];
            if (next[right] != -1) {
                prev[next[right]] = pos;
            }
            remaining--;
            if (prev[pos] != -1) {
                Long pm = merges.get(pairKey(id[prev[pos]], id[pos]));
                if (pm != null) {
                    heap.add(new long[] {pm >>> 32, prev[pos], pm & 0xFFFFFFFFL});
                }
            }
            if (next[pos] != -1) {
                Long nm = merges.get(pairKey(id[pos], id[next[pos]]));
                if (nm != null) {
                    heap.add(new long[] {nm >>> 32, pos, nm & 0xFFFFFFFFL});
                }
            }
        }
        int[] result = new int[remaining];
        for (int i = 0, r = 0; i < count; i++) {
            if (!gone[i]) {
                result[r++] = id[i];
            }
        }
        return result;
    }

    @Override
    public @Nullable String idToToken(int id) {
        return tokens.get(id);
    }

    @Override
    public int tokenToId(String token) {
        Integer id = vocab.get(token);
        return id == null ? -1 : id;
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }
}
