/**
 * FLUX.1 text to image: {@link io.github.flux4j.pipeline.FluxPipeline} (diffusers'
 * {@code FluxPipeline.__call__} on LibTorch), its {@link io.github.flux4j.pipeline.GenerationOptions}
 * and {@link io.github.flux4j.pipeline.GenerationResult}, progress
 * ({@link io.github.flux4j.pipeline.ProgressListener}), cancellation
 * ({@link io.github.flux4j.pipeline.Cancellation}), model offloading
 * ({@link io.github.flux4j.pipeline.Offload}) and image files
 * ({@link io.github.flux4j.pipeline.ImageFiles}). The parts live in the sub-packages: tokenizers,
 * the flow-matching scheduler, latents and noise, model folders, offloading. See
 * {@code docs/pipeline.md}.
 */
@NullMarked
package io.github.flux4j.pipeline;

import org.jspecify.annotations.NullMarked;
