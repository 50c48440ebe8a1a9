package io.github.flux4j.pipeline.model;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * The files of a {@code tokenizer_2/} folder holding T5's SentencePiece tokenizer: the
 * SentencePiece model, the fast tokenizer's JSON, or both (FLUX.1-dev ships both).
 *
 * @param spieceModel      {@code spiece.model} (SentencePiece protobuf), if present
 * @param tokenizerJson    {@code tokenizer.json} (Hugging Face tokenizers, Unigram), if present
 * @param tokenizerConfig  {@code tokenizer_config.json}, if present
 * @param specialTokensMap {@code special_tokens_map.json}, if present
 */
public record T5TokenizerFiles(
        @Nullable Path spieceModel,
        @Nullable Path tokenizerJson,
        @Nullable Path tokenizerConfig,
        @Nullable Path specialTokensMap) {
    /**
     * Checks that one of the two tokenizer models is given.
     *
     * @throws IllegalArgumentException if neither is
     */
    public T5TokenizerFiles {
        if (spieceModel == null && tokenizerJson == null) {
            throw new IllegalArgumentException("a T5 tokenizer needs spiece.model or tokenizer.json");
        }
    }
}
