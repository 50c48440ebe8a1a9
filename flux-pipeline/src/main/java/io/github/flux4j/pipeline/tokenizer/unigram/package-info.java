/**
 * The Unigram language-model tokenizer of SentencePiece (T5's): the most probable segmentation
 * of a word into vocabulary pieces by Viterbi search
 * ({@link io.github.flux4j.pipeline.tokenizer.unigram.UnigramModel}).
 */
@NullMarked
package io.github.flux4j.pipeline.tokenizer.unigram;

import org.jspecify.annotations.NullMarked;
