/**
 * FLUX's VAE decoder on LibTorch: latents to images, as diffusers' {@code AutoencoderKL} and the
 * tail of {@code FluxPipeline} compute them.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.core.vae.VaeDecoder}: loading (diffusers {@code vae/} folder or BFL
 *       {@code ae.safetensors}), {@code unscale}, {@code decode}, tiled decoding, and the
 *       latents-to-{@link io.github.flux4j.core.vae.RgbImage} glue.</li>
 *   <li>{@link io.github.flux4j.core.vae.VaeConfig}: the configuration, read from {@code config.json}.</li>
 *   <li>{@link io.github.flux4j.core.vae.VaeImageProcessor}: {@code VaeImageProcessor.postprocess}'s
 *       arithmetic from [-1, 1] tensors to 8-bit RGB.</li>
 * </ul>
 *
 * <p>The network is one package-private class per diffusers module, fields named after the
 * checkpoint names: {@code Decoder} ({@code decoder.conv_in}, {@code mid_block}, {@code up_blocks},
 * {@code conv_norm_out}, {@code conv_out}), {@code UNetMidBlock2D}, {@code UpDecoderBlock2D},
 * {@code ResnetBlock2D}, {@code Attention}, {@code Upsample2D}, with {@code Conv2d} and
 * {@code GroupNorm} as the leaf layers. See {@code docs/vae.md}.
 */
@NullMarked
package io.github.flux4j.core.vae;

import org.jspecify.annotations.NullMarked;
