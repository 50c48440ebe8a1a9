/**
 * Model CPU offloading: keeping a pipeline's models on the CPU and moving each one to the GPU only
 * while it runs ({@link io.github.flux4j.pipeline.offload.ModelOffloader}), through the models'
 * in-place {@link io.github.flux4j.core.torch.DeviceMovable#moveTo} (quantized GGUF blocks move as
 * bytes).
 */
@NullMarked
package io.github.flux4j.pipeline.offload;

import org.jspecify.annotations.NullMarked;
