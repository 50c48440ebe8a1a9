/**
 * The CLIP text encoder (transformers {@code CLIPTextModel}; FLUX uses OpenAI's
 * {@code clip-vit-large-patch14}): token ids {@code [B, 77]} to the final-LayerNorm hidden states
 * and the pooled vector at the end-of-text position, which is what FLUX conditions on.
 * Entry point: {@link io.github.flux4j.core.clip.ClipTextModel}. See {@code docs/text-encoders.md}.
 */
@NullMarked
package io.github.flux4j.core.clip;

import org.jspecify.annotations.NullMarked;
