/**
 * The encoding flow shared by the CLIP and T5 tokenizers, modelled on Hugging Face
 * {@code tokenizers}: added (special) tokens are cut out of the text, the rest is normalized
 * ({@link io.github.flux4j.tokenizers.internal.engine.Normalizer}), split into words
 * ({@link io.github.flux4j.tokenizers.internal.engine.PreTokenizer}) and each word is turned into
 * ids by a {@link io.github.flux4j.tokenizers.internal.engine.TokenModel} (BPE or Unigram).
 *
 * <p>Every object here is immutable after construction and safe to share between threads.
 *
 * <p>Internal to flux-tokenizers: public only so that {@code io.github.flux4j.tokenizers} can use
 * it across packages; not API, and a {@code module-info} leaves it unexported.
 */
@NullMarked
package io.github.flux4j.tokenizers.internal.engine;

import org.jspecify.annotations.NullMarked;
