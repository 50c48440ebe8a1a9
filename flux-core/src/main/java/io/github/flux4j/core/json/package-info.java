/**
 * JSON helpers shared by every reader of configuration and tokenizer files: readable parse errors
 * ({@link io.github.flux4j.core.json.JsonErrors}).
 */
@NullMarked
package io.github.flux4j.core.json;

import org.jspecify.annotations.NullMarked;
