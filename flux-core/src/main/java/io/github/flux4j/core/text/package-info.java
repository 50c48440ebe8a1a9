/**
 * What the two text encoders share: the transformers activation functions computed op for op
 * ({@link io.github.flux4j.core.text.HfActivation}) and token-id batches
 * ({@link io.github.flux4j.core.text.TokenIds}). The encoders themselves are in
 * {@link io.github.flux4j.core.clip} and {@link io.github.flux4j.core.t5}; see
 * {@code docs/text-encoders.md}.
 */
@NullMarked
package io.github.flux4j.core.text;

import org.jspecify.annotations.NullMarked;
