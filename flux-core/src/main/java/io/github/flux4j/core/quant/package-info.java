/**
 * GGML block dequantization as vectorised LibTorch operations
 * ({@link io.github.flux4j.core.quant.TorchDequantizer}), so that quantized weights can stay
 * packed on the GPU and be expanded there on every use.
 */
@NullMarked
package io.github.flux4j.core.quant;

import org.jspecify.annotations.NullMarked;
