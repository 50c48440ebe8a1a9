package io.github.flux4j.tokenizers.internal.engine;

/** A text-to-text step applied before pre-tokenization (a {@code tokenizers} "normalizer"). */
@FunctionalInterface
public interface Normalizer {
    /** The normalized form of {@code text}. */
    String normalize(String text);
}
