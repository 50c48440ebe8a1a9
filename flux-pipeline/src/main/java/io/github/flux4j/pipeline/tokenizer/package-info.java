/**
 * FLUX.1's two tokenizers in pure Java, id-for-id equal to Hugging Face's:
 * {@link io.github.flux4j.pipeline.tokenizer.ClipTokenizer} (byte-level BPE,
 * {@code tokenizer/}) and {@link io.github.flux4j.pipeline.tokenizer.T5Tokenizer}
 * (SentencePiece Unigram, {@code tokenizer_2/}). Both implement
 * {@link io.github.flux4j.pipeline.tokenizer.PromptTokenizer}, whose batch call gives the padded,
 * truncated {@link io.github.flux4j.pipeline.tokenizer.EncodedBatch} that diffusers'
 * {@code FluxPipeline} feeds its text encoders. See {@code docs/tokenizers.md}.
 *
 * <p>Tokenizers are immutable and thread-safe once built.
 */
@NullMarked
package io.github.flux4j.pipeline.tokenizer;

import org.jspecify.annotations.NullMarked;
