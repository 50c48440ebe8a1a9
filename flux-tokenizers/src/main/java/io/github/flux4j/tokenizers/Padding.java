package io.github.flux4j.tokenizers;

/** How the rows of a batch are padded (transformers' {@code padding} argument). */
public enum Padding {
    /** No padding: rows keep their own lengths ({@code padding=False}). */
    NONE,
    /** Every row padded to the longest row of the batch ({@code padding="longest"}). */
    LONGEST,
    /** Every row padded to the requested maximum length ({@code padding="max_length"}), as FLUX does. */
    MAX_LENGTH
}
