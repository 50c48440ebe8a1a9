package io.github.flux4j.pipeline;

import io.github.flux4j.core.torch.TensorTrace;
import org.bytedeco.pytorch.Tensor;

/**
 * Receives the intermediate tensors of a generation, for debugging and for comparing each stage
 * with diffusers' {@code FluxPipeline} (the names are those of the values there):
 *
 * <ul>
 *   <li>{@code clip_input_ids} {@code [B, 77]} int64, {@code t5_input_ids} {@code [B, L]} int64
 *       (B prompts, L = {@code max_sequence_length})</li>
 *   <li>{@code pooled_prompt_embeds} {@code [B*n, clip_hidden]} and {@code prompt_embeds}
 *       {@code [B*n, L, t5_hidden]}, already repeated for {@code num_images_per_prompt} = n;
 *       {@code text_ids} {@code [L, 3]}</li>
 *   <li>{@code latents.initial} {@code [B*n, tokens, 64]}, {@code img_ids} {@code [tokens, 3]},
 *       {@code guidance} {@code [B*n]} float32 (guidance-distilled models only)</li>
 *   <li>per step i: {@code timestep.i} {@code [B*n]} (what the transformer receives:
 *       {@code t / 1000} in the pipeline dtype), {@code noise_pred.i}, {@code latents.step}i
 *       (after the scheduler step)</li>
 *   <li>{@code image.decoded} {@code [B*n, 3, H, W]}: the VAE's output in [-1, 1], before
 *       post-processing</li>
 * </ul>
 *
 * The tensors belong to the pipeline and are freed after the call returns: copy what you need
 * (e.g. {@code t.to(cpu, Float).clone()} or read its values) inside {@link #record}.
 */
@FunctionalInterface
public interface PipelineTrace extends TensorTrace {
    /** Ignores everything. */
    PipelineTrace NONE = (name, tensor) -> {};

    /** One named intermediate. */
    @Override
    void record(String name, Tensor tensor);
}
