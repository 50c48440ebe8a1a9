/**
 * Model weights, whatever file they come in, presented under one naming scheme and bound to a
 * model strictly.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.core.weights.SafetensorsFile}: a validating, memory-mapped
 *       safetensors reader.</li>
 *   <li>{@link io.github.flux4j.core.weights.WeightSource}: GGUF files, BFL-format safetensors and
 *       diffusers transformer folders, all presenting BFL tensor names
 *       ({@code double_blocks.0.img_attn.qkv.weight}); diffusers names are mapped back, split
 *       projections joined.</li>
 *   <li>{@link io.github.flux4j.core.weights.WeightPath}: the binder. A model walks the name tree
 *       ({@code w.at("double_blocks").at(i).at("img_attn").linear("qkv", 3 * h, h)}); every
 *       missing, mis-shaped or unused tensor is collected and reported in one
 *       {@link io.github.flux4j.core.weights.WeightBindingException} before anything is
 *       loaded.</li>
 * </ul>
 */
@NullMarked
package io.github.flux4j.core.weights;

import org.jspecify.annotations.NullMarked;
