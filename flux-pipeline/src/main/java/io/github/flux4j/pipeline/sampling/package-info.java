/**
 * The denoising loop ({@link io.github.flux4j.pipeline.sampling.Denoiser}): the transformer and
 * the scheduler stepped from noise to clean latents, one {@link org.bytedeco.javacpp.PointerScope}
 * per step, as diffusers' {@code FluxPipeline.__call__} loop (candle's {@code sampling.rs}).
 */
@NullMarked
package io.github.flux4j.pipeline.sampling;

import org.jspecify.annotations.NullMarked;
