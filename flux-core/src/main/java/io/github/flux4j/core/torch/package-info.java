/**
 * LibTorch plumbing shared by every network: devices ({@link io.github.flux4j.core.torch.FluxDevice}),
 * compute dtypes ({@link io.github.flux4j.core.torch.ComputeDtype}), process-wide switches and
 * guards ({@link io.github.flux4j.core.torch.Torch}), the native-memory discipline
 * ({@link io.github.flux4j.core.torch.Scopes}, {@link io.github.flux4j.core.torch.TensorSlot} for
 * chains of large tensors, {@link io.github.flux4j.core.torch.NativeMemory},
 * {@link io.github.flux4j.core.torch.Cleanup} for closing several resources), page-locked host
 * memory and CUDA runtime status checks ({@link io.github.flux4j.core.torch.PinnedHostMemory},
 * {@link io.github.flux4j.core.torch.CudaRuntime}), Java arrays to tensors
 * and back ({@link io.github.flux4j.core.torch.Tensors}) and stage traces
 * ({@link io.github.flux4j.core.torch.TensorTrace}, {@link io.github.flux4j.core.torch.StageTimings}).
 *
 * <p>Every LibTorch object is native memory that the garbage collector does not see; see
 * {@code docs/memory.md} for the rules the whole library follows.
 */
@NullMarked
package io.github.flux4j.core.torch;

import org.jspecify.annotations.NullMarked;
