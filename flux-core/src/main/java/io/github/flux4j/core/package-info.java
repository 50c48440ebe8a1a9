/**
 * The FLUX networks on LibTorch: the MMDiT transformer, the T5 and CLIP text encoders and the
 * VAE, built from GGUF or safetensors weights.
 */
@NullMarked
package io.github.flux4j.core;

import org.jspecify.annotations.NullMarked;
