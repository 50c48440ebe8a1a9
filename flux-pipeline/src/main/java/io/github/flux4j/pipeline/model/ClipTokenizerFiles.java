package io.github.flux4j.pipeline.model;

import java.nio.file.Path;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The files of a {@code tokenizer/} folder holding CLIP's byte-level BPE tokenizer.
 *
 * @param vocab            {@code vocab.json}: token to id
 * @param merges           {@code merges.txt}: the BPE merge ranks
 * @param tokenizerConfig  {@code tokenizer_config.json} (model_max_length, special tokens), if present
 * @param specialTokensMap {@code special_tokens_map.json}, if present
 */
public record ClipTokenizerFiles(
        Path vocab,
        Path merges,
        @Nullable Path tokenizerConfig,
        @Nullable Path specialTokensMap) {
    /** Checks the required files are given. */
    public ClipTokenizerFiles {
        Objects.requireNonNull(vocab, "vocab");
        Objects.requireNonNull(merges, "merges");
    }
}
