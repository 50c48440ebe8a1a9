/**
 * FLUX latent geometry, initial noise and the 2x2 token packing, exactly as diffusers'
 * {@code FluxPipeline} does them.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.pipeline.latents.LatentGeometry}: pixel size to latent size (rounded
 *       down to a multiple of 16 pixels), packed token count, output image size.</li>
 *   <li>{@link io.github.flux4j.pipeline.latents.FluxLatents}: {@code prepare_latents} (noise drawn
 *       on LibTorch's CPU generator, bit-identical to {@code torch.Generator("cpu").manual_seed}),
 *       {@code _pack_latents}, {@code _unpack_latents}, the RoPE position ids.</li>
 * </ul>
 */
@NullMarked
package io.github.flux4j.pipeline.latents;

import org.jspecify.annotations.NullMarked;
