package io.github.flux4j.tokenizers.internal.engine;

/**
 * A token matched in the raw text before the model runs, such as {@code <|endoftext|>} or
 * {@code <extra_id_0>} (an entry of {@code tokenizer.json}'s {@code added_tokens}).
 *
 * @param id its id
 * @param content the text it matches
 * @param singleWord match only where no word character touches it
 * @param lstrip also swallow the White_Space to its left
 * @param rstrip also swallow the White_Space to its right
 * @param normalized match in the normalized text (otherwise in the raw text)
 * @param special a special token: dropped when decoding with {@code skipSpecialTokens}
 */
public record AddedToken(
        int id,
        String content,
        boolean singleWord,
        boolean lstrip,
        boolean rstrip,
        boolean normalized,
        boolean special) {

    /** Checks the content. */
    public AddedToken {
        if (content.isEmpty()) {
            throw new IllegalArgumentException("added token " + id + " has empty content");
        }
    }

    /** A special token matched verbatim in the raw text, with no stripping. */
    public static AddedToken special(int id, String content) {
        return new AddedToken(id, content, false, false, false, false, true);
    }
}
