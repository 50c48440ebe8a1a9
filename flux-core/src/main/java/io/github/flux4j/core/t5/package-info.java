/**
 * The T5 encoder (transformers {@code T5EncoderModel}; FLUX uses google/t5-v1_1-xxl): token ids
 * {@code [B, 512]} to the last hidden states, which FLUX's transformer attends to. Loads
 * transformers checkpoints (single or sharded safetensors) and llama.cpp / city96 GGUF files, whose
 * quantized matrices stay quantized. Entry point: {@link io.github.flux4j.core.t5.T5EncoderModel}.
 * See {@code docs/text-encoders.md}.
 */
@NullMarked
package io.github.flux4j.core.t5;

import org.jspecify.annotations.NullMarked;
