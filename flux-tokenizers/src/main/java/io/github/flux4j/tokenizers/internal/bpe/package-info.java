/**
 * Byte-level byte-pair encoding as CLIP (and GPT-2) use it: the reversible byte-to-character
 * table ({@link io.github.flux4j.tokenizers.internal.bpe.ByteLevel}) and the merge-rank model
 * ({@link io.github.flux4j.tokenizers.internal.bpe.BpeModel}).
 *
 * <p>Internal to flux-tokenizers: public only so that {@code io.github.flux4j.tokenizers} can use
 * it across packages; not API, and a {@code module-info} leaves it unexported.
 */
@NullMarked
package io.github.flux4j.tokenizers.internal.bpe;

import org.jspecify.annotations.NullMarked;
