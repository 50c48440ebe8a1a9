/**
 * Byte-level byte-pair encoding as CLIP (and GPT-2) use it: the reversible byte-to-character
 * table ({@link io.github.flux4j.pipeline.tokenizer.bpe.ByteLevel}) and the merge-rank model
 * ({@link io.github.flux4j.pipeline.tokenizer.bpe.BpeModel}).
 */
@NullMarked
package io.github.flux4j.pipeline.tokenizer.bpe;

import org.jspecify.annotations.NullMarked;
