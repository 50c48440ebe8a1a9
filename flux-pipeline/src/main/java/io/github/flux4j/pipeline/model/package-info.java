/**
 * A FLUX.1 base model folder in diffusers' layout, found on disk or in the local Hugging Face
 * cache, validated before anything is loaded.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.pipeline.model.FluxModelFolder}: the folder, its components' paths
 *       and parsed configurations.</li>
 *   <li>{@link io.github.flux4j.pipeline.model.HuggingFaceCache}: {@code models--org--name/snapshots/rev}
 *       lookup with {@code refs/}, as {@code huggingface_hub} lays it out (downloads: {@link io.github.flux4j.pipeline.hub.HubFiles}).</li>
 *   <li>{@link io.github.flux4j.pipeline.model.ModelIndex}: {@code model_index.json}.</li>
 * </ul>
 *
 * See {@code docs/model-folders.md}.
 */
@NullMarked
package io.github.flux4j.pipeline.model;

import org.jspecify.annotations.NullMarked;
