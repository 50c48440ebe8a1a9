package io.github.flux4j.core.transformer;

import org.bytedeco.pytorch.Tensor;

/**
 * Receives intermediate results of {@link FluxTransformer#forward}, for tests and debugging. The
 * tensor is valid only during the call (it belongs to the forward's scope): copy what you need
 * ({@code value.to(ScalarType.Float).contiguous()} then read it out, or {@code clone()} and
 * {@code retainReference()}).
 *
 * <p>The names are those of the diffusers modules whose outputs they equal (so that diffusers
 * forward hooks give the reference values), in call order (h = hidden size, S = Stxt + Simg):
 * <ul>
 *   <li>{@code x_embedder} {@code [B, Simg, h]}: {@code img_in(img)}</li>
 *   <li>{@code timestep_proj}, {@code guidance_proj} {@code [B, 256]} float32: the sinusoidal
 *       embeddings of {@code 1000 * t} and {@code 1000 * guidance} (diffusers' {@code time_proj})</li>
 *   <li>{@code temb} {@code [B, h]}: the conditioning vector (BFL's {@code vec};
 *       diffusers' {@code time_text_embed})</li>
 *   <li>{@code context_embedder} {@code [B, Stxt, h]}: {@code txt_in(txt)}</li>
 *   <li>{@code rope_cos}, {@code rope_sin} {@code [S, headDim]} float32 ({@code pos_embed})</li>
 *   <li>{@code double.i.encoder_hidden_states} {@code [B, Stxt, h]} and
 *       {@code double.i.hidden_states} {@code [B, Simg, h]}: the text and image streams after
 *       {@code double_blocks.i} ({@code transformer_blocks.i})</li>
 *   <li>{@code single.i.encoder_hidden_states}, {@code single.i.hidden_states}: the text and
 *       image parts of the joint stream after {@code single_blocks.i}
 *       ({@code single_transformer_blocks.i})</li>
 *   <li>{@code norm_out} {@code [B, Simg, h]}: the final adaptive LayerNorm's output</li>
 *   <li>{@code output} {@code [B, Simg, outChannels]}</li>
 * </ul>
 */
@FunctionalInterface
public interface ForwardTrace {
    /** A trace that ignores everything. */
    ForwardTrace NONE = (name, value) -> {};

    /** Called with each named intermediate. */
    void record(String name, Tensor value);
}
