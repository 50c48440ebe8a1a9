/**
 * Network building blocks on LibTorch: linear layers behind one interface
 * ({@link io.github.flux4j.core.nn.LinearOp}: dense, or GGML-quantized and dequantized on every
 * forward), their construction from GGUF bytes ({@link io.github.flux4j.core.nn.Linears}) and the
 * generic stateless operations every network uses ({@link io.github.flux4j.core.nn.Functional}:
 * norms, activations, attention), and
 * CPU convolutions checked against LibTorch's faulty oneDNN kernels
 * ({@link io.github.flux4j.core.nn.CpuConvolutions}, {@code docs/cpu.md}).
 *
 * <p>Layers own their weight tensors and free them in {@code close()}; {@code forward} results
 * belong to the caller's {@link org.bytedeco.javacpp.PointerScope} (see {@code docs/memory.md}).
 */
@NullMarked
package io.github.flux4j.core.nn;

import org.jspecify.annotations.NullMarked;
