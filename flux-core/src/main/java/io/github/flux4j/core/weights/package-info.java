/**
 * Binding model weights to a model, strictly, and loading them into LibTorch: what every model
 * (transformer, text encoders, VAE) loads through. Where the weights come from (GGUF,
 * safetensors, diffusers and transformers folders) is {@link io.github.flux4j.core.weights.source}.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.core.weights.ModelLoader}: the one load path of the four models
 *       (architecture check, the model's view of the names, configuration, binding).</li>
 *   <li>{@link io.github.flux4j.core.weights.WeightPath}: the binder's view of the name tree. A
 *       model walks it ({@code w.at("double_blocks").at(i).at("img_attn").linear("qkv", 3 * h, h)});
 *       every missing, mis-shaped or unused tensor is collected and reported in one
 *       {@link io.github.flux4j.core.weights.WeightBindingException} before anything is loaded
 *       ({@link io.github.flux4j.core.weights.WeightBinder}).</li>
 *   <li>{@link io.github.flux4j.core.weights.LoadOptions}: device, compute dtype and the other
 *       choices of a load; {@link io.github.flux4j.core.weights.LoadedWeights} and
 *       {@link io.github.flux4j.core.weights.LoadedModel}: the native tensors a model owns.</li>
 * </ul>
 */
@NullMarked
package io.github.flux4j.core.weights;

import org.jspecify.annotations.NullMarked;
