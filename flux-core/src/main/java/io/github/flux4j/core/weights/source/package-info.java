/**
 * Model weights as stored in files, presented under one naming scheme: the file formats'
 * readers and writer, and the {@link io.github.flux4j.core.weights.source.WeightSource}s built on
 * them. Nothing here touches LibTorch; binding the tensors to a model is
 * {@link io.github.flux4j.core.weights}.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.core.weights.source.WeightInfo}: the one descriptor of a tensor
 *       (name, type, shape, size, where it is stored) above the file formats.</li>
 *   <li>{@link io.github.flux4j.core.weights.source.SafetensorsFile} and
 *       {@link io.github.flux4j.core.weights.source.SafetensorsWriter}: a validating,
 *       memory-mapped safetensors reader and a writer (GGUF's are in {@code flux-gguf}).</li>
 *   <li>{@link io.github.flux4j.core.weights.source.WeightSource}: GGUF files, BFL-format
 *       safetensors and diffusers transformer folders, all presenting BFL tensor names
 *       ({@code double_blocks.0.img_attn.qkv.weight}; diffusers names are mapped back, split
 *       projections joined: {@link io.github.flux4j.core.weights.source.DiffusersNames});
 *       transformers checkpoints under their own names; any of them renamed
 *       ({@link io.github.flux4j.core.weights.source.RenamedWeightSource}).</li>
 * </ul>
 */
@NullMarked
package io.github.flux4j.core.weights.source;

import org.jspecify.annotations.NullMarked;
