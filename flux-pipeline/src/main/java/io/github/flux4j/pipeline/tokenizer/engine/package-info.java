/**
 * The encoding flow shared by the CLIP and T5 tokenizers, modelled on Hugging Face
 * {@code tokenizers}: added (special) tokens are cut out of the text, the rest is normalized
 * ({@link io.github.flux4j.pipeline.tokenizer.engine.Normalizer}), split into words
 * ({@link io.github.flux4j.pipeline.tokenizer.engine.PreTokenizer}) and each word is turned into
 * ids by a {@link io.github.flux4j.pipeline.tokenizer.engine.TokenModel} (BPE or Unigram).
 *
 * <p>Every object here is immutable after construction and safe to share between threads.
 */
@NullMarked
package io.github.flux4j.pipeline.tokenizer.engine;

import org.jspecify.annotations.NullMarked;
