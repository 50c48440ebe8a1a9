package io.github.flux4j.tokenizers;

import java.util.List;

/** A text tokenizer as FLUX's text encoders need it. Implementations are thread-safe. */
public interface PromptTokenizer {
    /** The ids of {@code text} with the special tokens around it; no truncation, no padding. */
    int[] encode(String text);

    /** The ids of {@code text} without special tokens. */
    int[] encodeWithoutSpecialTokens(String text);

    /**
     * Encodes a batch the way transformers does ({@code tokenizer(texts, padding=..., max_length=...,
     * truncation=...)}): with truncation, each row keeps its special tokens and the first text
     * tokens that fit in {@code maxLength}; padding uses {@link #padTokenId()} on the right.
     *
     * @param texts the texts
     * @param maxLength the maximum length (special tokens included) for truncation and
     *     {@link Padding#MAX_LENGTH}
     * @param padding how rows are padded
     * @param truncation whether longer rows are cut to {@code maxLength}
     * @throws IllegalArgumentException if {@code maxLength} cannot even hold the special tokens
     */
    EncodedBatch encode(List<String> texts, int maxLength, Padding padding, boolean truncation);

    /**
     * FLUX's call: {@code padding="max_length", max_length=maxLength, truncation=True}. Every row
     * has exactly {@code maxLength} ids.
     */
    default EncodedBatch encodePadded(List<String> texts, int maxLength) {
        return encode(texts, maxLength, Padding.MAX_LENGTH, true);
    }

    /** The text of {@code ids}; special tokens are dropped if {@code skipSpecialTokens}. */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** The token strings of {@code text}, special tokens included (for inspection). */
    List<String> tokens(String text);

    /** The token with this id, or {@code null}. */
    @org.jspecify.annotations.Nullable
    String idToToken(int id);

    /** The id of this token, or -1. */
    int tokenToId(String token);

    /** The padding id. */
    int padTokenId();

    /** The end-of-sequence id. */
    int eosTokenId();

    /** The longest input the matching model accepts ({@code model_max_length}: 77 for CLIP, 512 for T5). */
    int modelMaxLength();

    /** The number of ids, added tokens included. */
    int vocabSize();
}
