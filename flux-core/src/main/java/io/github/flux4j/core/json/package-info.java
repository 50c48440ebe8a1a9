/**
 * JSON helpers shared by every reader of configuration and tokenizer files: the one reader of the
 * diffusers and transformers configuration files, which binds them to records with Jackson
 * ({@link io.github.flux4j.core.json.ConfigReader}), and readable parse errors
 * ({@link io.github.flux4j.core.json.JsonErrors}).
 */
@NullMarked
package io.github.flux4j.core.json;

import org.jspecify.annotations.NullMarked;
