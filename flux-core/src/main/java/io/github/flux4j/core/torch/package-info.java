/**
 * LibTorch plumbing shared by every network: devices ({@link io.github.flux4j.core.torch.FluxDevice}),
 * compute dtypes ({@link io.github.flux4j.core.torch.ComputeDtype}), process-wide switches and
 * guards ({@link io.github.flux4j.core.torch.Torch}) and the native-memory discipline
 * ({@link io.github.flux4j.core.torch.Scopes}, {@link io.github.flux4j.core.torch.NativeMemory}).
 *
 * <p>Every LibTorch object is native memory that the garbage collector does not see; see
 * {@code docs/memory.md} for the rules the whole library follows.
 */
@NullMarked
package io.github.flux4j.core.torch;

import org.jspecify.annotations.NullMarked;
