/**
 * Conversions between float32 and the GGML block formats: dequantizers for every type FLUX
 * files use, and quantizers bit-identical to gguf-py (legacy types) or following llama.cpp's
 * reference algorithms (K-quants).
 */
@NullMarked
package io.github.flux4j.gguf.quant;

import org.jspecify.annotations.NullMarked;
