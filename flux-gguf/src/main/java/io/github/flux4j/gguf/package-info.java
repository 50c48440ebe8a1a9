/**
 * GGUF files: reading ({@link io.github.flux4j.gguf.GgufFile}), the GGML type table
 * ({@link io.github.flux4j.gguf.GgmlType}), metadata values and tensor descriptions.
 *
 * <p>Pure JDK: no native code, so this module is usable on its own to inspect, convert and
 * quantize models.
 */
@NullMarked
package io.github.flux4j.gguf;

import org.jspecify.annotations.NullMarked;
