/**
 * Text-to-image: tokenizers, the flow-matching scheduler, model loading, memory and offload
 * management, and the fluent {@code FluxPipeline} API.
 */
@NullMarked
package io.github.flux4j.pipeline;

import org.jspecify.annotations.NullMarked;
