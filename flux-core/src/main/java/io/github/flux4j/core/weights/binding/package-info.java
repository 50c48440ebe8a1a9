/**
 * Binding model weights to a model, strictly, and loading them into LibTorch: what the four
 * models (transformer, text encoders, VAE) load through. Not exported: users load a model through
 * its own static {@code load} methods ({@code FluxTransformer.load(path, options)}) and never
 * name these types, whose signatures are in the networks' building blocks ({@code core.nn}, not
 * exported either); hiding them lets the binding change without breaking anyone.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.core.weights.binding.ModelLoader}: the one load path of the four
 *       models (architecture check, the model's view of the names, configuration, binding), held
 *       by each model behind its {@code load} methods.</li>
 *   <li>{@link io.github.flux4j.core.weights.binding.WeightPath}: the binder's view of the name
 *       tree. A model walks it
 *       ({@code w.at("double_blocks").at(i).at("img_attn").linear("qkv", 3 * h, h)}); every
 *       missing, mis-shaped or unused tensor is collected and reported in one
 *       {@link io.github.flux4j.core.weights.WeightBindingException} before anything is loaded
 *       ({@link io.github.flux4j.core.weights.binding.WeightBinder}).</li>
 *   <li>{@link io.github.flux4j.core.weights.binding.LoadedWeights}: the native tensors one
 *       binding loaded, owned by the model ({@link io.github.flux4j.core.weights.LoadedModel},
 *       whose constructor takes them from the binding that runs it).</li>
 * </ul>
 */
@NullMarked
package io.github.flux4j.core.weights.binding;

import org.jspecify.annotations.NullMarked;
