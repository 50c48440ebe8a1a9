/**
 * GGUF files: reading ({@link io.github.flux4j.gguf.GgufFile}), writing
 * ({@link io.github.flux4j.gguf.GgufWriter}), the GGML type table
 * ({@link io.github.flux4j.gguf.GgmlType}), metadata values and tensor descriptions. Conversions
 * between float32 and the GGML block formats live in {@code io.github.flux4j.gguf.quant}.
 *
 * <p>Pure JDK: no native code, so this module is usable on its own to inspect, convert and
 * quantize models. See {@code docs/gguf.md}.
 */
@NullMarked
package io.github.flux4j.gguf;

import org.jspecify.annotations.NullMarked;
