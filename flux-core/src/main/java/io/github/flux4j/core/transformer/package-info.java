/**
 * The FLUX.1 transformer on LibTorch, one class per BFL block: {@link
 * io.github.flux4j.core.transformer.FluxTransformer} ({@code Flux}) built from {@code EmbedNd},
 * {@code MlpEmbedder}, {@code Modulation}, {@code QkNorm}, {@code SelfAttention}, {@code Mlp},
 * {@code DoubleStreamBlock}, {@code SingleStreamBlock} and {@code LastLayer}, with the FLUX-specific
 * stateless math in {@code FluxMath} (the generic ops are {@link io.github.flux4j.core.nn.Functional}'s)
 * and {@code RopeCache}, which keeps the RoPE tables while a denoising loop passes the same ids.
 * {@link io.github.flux4j.core.transformer.GraphedForward} replays a resident model's forward from
 * a CUDA graph per input shape.
 *
 * <p>Mirrors BFL's reference implementation
 * (<a href="https://github.com/black-forest-labs/flux/blob/main/src/flux/model.py">flux/model.py</a>,
 * <a href="https://github.com/black-forest-labs/flux/blob/main/src/flux/modules/layers.py">modules/layers.py</a>;
 * paper: <a href="https://arxiv.org/abs/2506.15742">FLUX.1 Kontext</a> and
 * <a href="https://arxiv.org/abs/2403.03206">Scaling Rectified Flow Transformers</a>) in structure
 * and names, and computes what diffusers' {@code FluxTransformer2DModel} computes, op for op. See
 * {@code docs/transformer.md}.
 */
@NullMarked
package io.github.flux4j.core.transformer;

import org.jspecify.annotations.NullMarked;
