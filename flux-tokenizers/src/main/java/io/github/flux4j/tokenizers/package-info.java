/**
 * FLUX.1's two tokenizers in pure Java, id-for-id equal to Hugging Face's:
 * {@link io.github.flux4j.tokenizers.ClipTokenizer} (byte-level BPE,
 * {@code tokenizer/}) and {@link io.github.flux4j.tokenizers.T5Tokenizer}
 * (SentencePiece Unigram, {@code tokenizer_2/}). Both implement
 * {@link io.github.flux4j.tokenizers.PromptTokenizer}, whose batch call gives the padded,
 * truncated {@link io.github.flux4j.tokenizers.EncodedBatch} that diffusers'
 * {@code FluxPipeline} feeds its text encoders. See {@code docs/tokenizers.md}.
 *
 * <p>Tokenizers are immutable and thread-safe once built. This package is the module's API; the
 * engine that runs them ({@code io.github.flux4j.tokenizers.internal.*}: normalizers,
 * pre-tokenizers, the BPE and Unigram models, the SentencePiece reader) is internal.
 */
@NullMarked
package io.github.flux4j.tokenizers;

import org.jspecify.annotations.NullMarked;
