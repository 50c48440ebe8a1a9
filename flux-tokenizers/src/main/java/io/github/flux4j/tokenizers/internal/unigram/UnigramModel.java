package io.github.flux4j.tokenizers.internal.unigram;

import io.github.flux4j.tokenizers.internal.engine.IntList;
import io.github.flux4j.tokenizers.internal.engine.TokenModel;
import io.github.flux4j.tokenizers.internal.engine.UnicodeText;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A Unigram model: the segmentation of a word into pieces with the highest total score (log
 * probability), found by the "optimized" Viterbi search that SentencePiece and {@code tokenizers}
 * share. A character no piece starts with becomes the unknown piece, scored
 * {@code minScore - 10}; runs of unknown pieces are fused into one.
 *
 * <p>Two flavours differ in details that can change ties: {@link Flavor#TOKENIZERS} adds scores
 * in {@code double} and looks up every vocabulary entry; {@link Flavor#SENTENCEPIECE} adds them
 * in {@code float}, as the C++ library does, and looks up only the pieces the caller marks
 * (SentencePiece leaves control and unused pieces out).
 */
public final class UnigramModel implements TokenModel {
    private static final double UNK_PENALTY = 10.0;

    /** Whose arithmetic to follow. */
    public enum Flavor {
        /** Hugging Face {@code tokenizers} ({@code double} sums). */
        TOKENIZERS,
        /** The SentencePiece C++ library ({@code float} sums, user-defined piece bonus). */
        SENTENCEPIECE
    }

    private final String[] pieces;
    private final double[] scores;
    private final float[] floatScores;
    private final int[] utf8Lengths;
    private final boolean[] userDefined;
    private final Map<String, Integer> ids;
    private final PieceTrie trie;
    private final int unkId;
    private final double unkScore;
    private final float maxScore;
    private final Flavor flavor;

    /**
     * @param pieces the vocabulary, by id
     * @param scores each piece's score
     * @param inTrie which pieces can be matched in text
     * @param userDefined which pieces are SentencePiece user-defined symbols (always preferred);
     *     {@code null} for none
     * @param unkId the unknown piece's id
     * @param minScore the lowest score (of all pieces for tokenizers, of normal ones for SentencePiece)
     * @param maxScore the highest normal score (SentencePiece's user-defined bonus); unused otherwise
     * @param flavor whose arithmetic to follow
     */
    public UnigramModel(
            List<String> pieces,
            double[] scores,
            boolean[] inTrie,
            boolean @Nullable [] userDefined,
            int unkId,
            double minScore,
            double maxScore,
            Flavor flavor) {
        int n = pieces.size();
        if (scores.length != n || inTrie.length != n) {
            throw new IllegalArgumentException("pieces, scores and trie flags differ in length");
        }
        if (n == 0) {
            throw new IllegalArgumentException("the vocabulary is empty but at least <unk> is needed");
        }
        if (unkId < 0 || unkId >= n) {
            throw new IllegalArgumentException("unk_id " + unkId + " is outside the vocabulary of " + n + " pieces");
        }
        this.pieces = pieces.toArray(new String[0]);
        this.scores = scores.clone();
        this.floatScores = new float[n];
        this.utf8Lengths = new int[n];
        this.userDefined = userDefined == null ? new boolean[n] : userDefined.clone();
        this.ids = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            floatScores[i] = (float) scores[i];
            utf8Lengths[i] = UnicodeText.utf8Length(this.pieces[i]);
            ids.put(this.pieces[i], i);
        }
        this.trie = PieceTrie.build(this.pieces, inTrie);
        this.unkId = unkId;
        this.unkScore =
                flavor == Flavor.SENTENCEPIECE ? (float) minScore - (float) UNK_PENALTY : minScore - UNK_PENALTY;
        this.maxScore = (float) maxScore;
        this.flavor = flavor;
    }

    /** The lowest score among {@code scores} (what tokenizers uses for {@code minScore}). */
    public static double minScore(double[] scores) {
        double min = Double.POSITIVE_INFINITY;
        for (double s : scores) {
            min = Math.min(min, s);
        }
        return min;
    }

    /** The unknown piece's id. */
    public int unkId() {
        return unkId;
    }

    @Override
    public void tokenize(String word, IntList out) {
        int size = word.length();
        if (size == 0) {
            return;
        }
        boolean sp = flavor == Flavor.SENTENCEPIECE;
        // best[i]: the best path over word[0, i); starts[i] == -1 while none is known.
        double[] best = new double[size + 1];
        int[] starts = new int[size + 1];
        int[] nodeId = new int[size + 1];
        java.util.Arrays.fill(starts, -1);
        for (int start = 0; start < size; ) {
            double here = best[start];
            int charLen = Character.charCount(word.codePointAt(start));
            boolean hasSingle = false;
            PieceTrie node = trie;
            for (int k = start; k < size; k++) {
                node = node.child(word.charAt(k));
                if (node == null) {
                    break;
                }
                int id = node.id;
                if (id < 0) {
                    continue;
                }
                int end = k + 1;
                if (end - start < charLen) {
                    continue; // half of a surrogate pair: not a character boundary
                }
                double candidate;
                double stored;
                if (!sp) {
                    candidate = scores[id] + here;
                    stored = candidate;
                } else if (userDefined[id]) {
                    // C++: (size_t * float - 0.1) is a double, compared unrounded, stored as float.
                    candidate = (double) (utf8Lengths[id] * maxScore) - 0.1 + here;
                    stored = (float) candidate;
                } else {
                    candidate = floatScores[id] + (float) here;
                    stored = candidate;
                }
                if (starts[end] == -1 || candidate > best[end]) {
                    best[end] = stored;
                    starts[end] = start;
                    nodeId[end] = id;
                }
                if (end - start == charLen) {
                    hasSingle = true;
                }
            }
            if (!hasSingle) {
                int end = start + charLen;
                double candidate = sp ? (float) unkScore + (float) here : unkScore + here;
                if (starts[end] == -1 || candidate > best[end]) {
                    best[end] = candidate;
                    starts[end] = start;
                    nodeId[end] = unkId;
                }
            }
            start += charLen;
        }
        // Backtrack, then emit in order with runs of unknowns fused.
        int count = 0;
        int[] path = new int[size];
        for (int end = size; end > 0; end = starts[end]) {
            path[count++] = nodeId[end];
        }
        boolean prevUnk = false;
        for (int i = count - 1; i >= 0; i--) {
            int id = path[i];
            boolean unk = id == unkId;
            if (!(unk && prevUnk)) {
                out.add(id);
            }
            prevUnk = unk;
        }
    }

    /** The score of piece {@code id}. */
    public double score(int id) {
        return scores[id];
    }

    @Override
    public @Nullable String idToToken(int id) {
        return id >= 0 && id < pieces.length ? pieces[id] : null;
    }

    @Override
    public int tokenToId(String token) {
        Integer id = ids.get(token);
        return id == null ? -1 : id;
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }
}
