package io.github.flux4j.pipeline.tokenizer.engine;

import java.util.List;

/** Turns tokens back into text (a {@code tokenizers} "decoder"). */
@FunctionalInterface
public interface Decoder {
    /** The text of {@code tokens}. */
    String decode(List<String> tokens);
}
