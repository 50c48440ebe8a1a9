/**
 * How a model is loaded, as its users see it: {@link io.github.flux4j.core.weights.LoadOptions}
 * (device, compute dtype and the other choices of a load, the one options record of the four
 * models), {@link io.github.flux4j.core.weights.LoadedModel} (what the four models have in common:
 * the native weights they own, moving them between devices, closing) and
 * {@link io.github.flux4j.core.weights.WeightBindingException} (every missing, mis-shaped or
 * unused tensor of a load, reported together). Where the weights come from (GGUF, safetensors,
 * diffusers and transformers folders) is {@link io.github.flux4j.core.weights.source}.
 *
 * <p>The binding itself (the models' load path, the strict check-then-load binder, the name tree
 * the models' constructors walk, the native weights a model owns) is
 * {@code io.github.flux4j.core.weights.binding}, which the module does not export.
 */
@NullMarked
package io.github.flux4j.core.weights;

import org.jspecify.annotations.NullMarked;
