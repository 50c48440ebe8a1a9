package io.github.flux4j.tokenizers.internal.engine;

import org.jspecify.annotations.Nullable;

/** Turns one pre-tokenized word into token ids (a {@code tokenizers} "model": BPE, Unigram). */
public interface TokenModel {
    /** Appends the ids of {@code word} to {@code out}. */
    void tokenize(String word, IntList out);

    /** The token with this id, or {@code null} if the id is out of range. */
    @Nullable
    String idToToken(int id);

    /** The id of this token, or -1. */
    int tokenToId(String token);

    /** The number of ids of the model (added tokens may lie beyond). */
    int vocabSize();
}
