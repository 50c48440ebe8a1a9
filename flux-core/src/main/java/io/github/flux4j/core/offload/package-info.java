/**
 * Block streaming: a model's transformer blocks live in (pinned) host memory and are copied to the
 * device one block ahead of the one computing, into two device arenas, on a side CUDA stream
 * ({@link io.github.flux4j.core.offload.BlockStreamer}); {@link io.github.flux4j.core.offload.BlockLayout}
 * is the byte layout a block's tensors share in host memory and in an arena.
 */
@NullMarked
package io.github.flux4j.core.offload;

import org.jspecify.annotations.NullMarked;
