/**
 * SentencePiece model files ({@code spiece.model}) without the protobuf library: the
 * {@code ModelProto} wire format
 * ({@link io.github.flux4j.tokenizers.internal.sentencepiece.SentencePieceModel}), the
 * precompiled normalization rules, a darts-clone double-array trie
 * ({@link io.github.flux4j.tokenizers.internal.sentencepiece.PrecompiledCharsMap}), and
 * SentencePiece's own normalizer
 * ({@link io.github.flux4j.tokenizers.internal.sentencepiece.SentencePieceNormalizer}).
 *
 * <p>Internal to flux-tokenizers: public only so that {@code io.github.flux4j.tokenizers} can use
 * it across packages; not API, and a {@code module-info} leaves it unexported.
 */
@NullMarked
package io.github.flux4j.tokenizers.internal.sentencepiece;

import org.jspecify.annotations.NullMarked;
