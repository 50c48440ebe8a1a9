/**
 * SentencePiece model files ({@code spiece.model}) without the protobuf library: the
 * {@code ModelProto} wire format
 * ({@link io.github.flux4j.pipeline.tokenizer.sentencepiece.SentencePieceModel}), the
 * precompiled normalization rules, a darts-clone double-array trie
 * ({@link io.github.flux4j.pipeline.tokenizer.sentencepiece.PrecompiledCharsMap}), and
 * SentencePiece's own normalizer
 * ({@link io.github.flux4j.pipeline.tokenizer.sentencepiece.SentencePieceNormalizer}).
 */
@NullMarked
package io.github.flux4j.pipeline.tokenizer.sentencepiece;

import org.jspecify.annotations.NullMarked;
