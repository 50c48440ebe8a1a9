package io.github.flux4j.tokenizers.internal.engine;

import java.util.List;

/**
 * Splits normalized text into the words that the model tokenizes one by one (a
 * {@code tokenizers} "pre-tokenizer").
 */
@FunctionalInterface
public interface PreTokenizer {
    /**
     * Appends the words of {@code text} to {@code out}.
     *
     * @param atOrigin whether {@code text} starts at the very beginning of the input (Metaspace's
     *     {@code prepend_scheme: first} adds its prefix only there)
     */
    void split(String text, boolean atOrigin, List<Word> out);

    /** A word: its text and whether it starts at the beginning of the input. */
    record Word(String text, boolean atOrigin) {}
}
