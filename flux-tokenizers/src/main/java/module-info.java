/**
 * FLUX.1's CLIP and T5 tokenizers in pure Java. The API is {@code io.github.flux4j.tokenizers};
 * the engine that runs them ({@code io.github.flux4j.tokenizers.internal.*}) is not exported.
 */
module io.github.flux4j.tokenizers {
    // TokenizerFormatException extends io.github.flux4j.FluxException.
    requires transitive io.github.flux4j.gguf;
    requires com.fasterxml.jackson.databind;
    requires static transitive org.jspecify;

    exports io.github.flux4j.tokenizers;
}
