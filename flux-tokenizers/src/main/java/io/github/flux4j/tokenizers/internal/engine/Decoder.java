package io.github.flux4j.tokenizers.internal.engine;

import java.util.List;

/** Turns tokens back into text (a {@code tokenizers} "decoder"). */
@FunctionalInterface
public interface Decoder {
    /** The text of {@code tokens}. */
    String decode(List<String> tokens);
}
