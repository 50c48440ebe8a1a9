/**
 * The Unigram language-model tokenizer of SentencePiece (T5's): the most probable segmentation
 * of a word into vocabulary pieces by Viterbi search
 * ({@link io.github.flux4j.tokenizers.internal.unigram.UnigramModel}).
 *
 * <p>Internal to flux-tokenizers: public only so that {@code io.github.flux4j.tokenizers} can use
 * it across packages; not API, and a {@code module-info} leaves it unexported.
 */
@NullMarked
package io.github.flux4j.tokenizers.internal.unigram;

import org.jspecify.annotations.NullMarked;
