/**
 * Hugging Face Hub downloads into the shared Hugging Face cache, laid out exactly as
 * {@code huggingface_hub} does it ({@code models--org--name/blobs}, {@code snapshots/<commit>},
 * {@code refs/<revision>}, {@code trees/<commit>.json}), so that Python tools and flux4j share
 * one cache.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.pipeline.hub.HubFiles}: the entry point; settings from
 *       {@code HF_ENDPOINT}, {@code HF_TOKEN}, {@code HF_HOME}, {@code HF_HUB_CACHE},
 *       {@code HF_HUB_OFFLINE}; parallel, resumable, verified downloads.</li>
 *   <li>{@link io.github.flux4j.pipeline.hub.HubPath}: {@code org/name[@revision]/path} as the
 *       command line spells a file in a repository.</li>
 *   <li>{@link io.github.flux4j.pipeline.hub.DownloadListener}: progress for a progress bar.</li>
 * </ul>
 *
 * See {@code docs/model-folders.md}.
 */
@NullMarked
package io.github.flux4j.pipeline.hub;

import org.jspecify.annotations.NullMarked;
