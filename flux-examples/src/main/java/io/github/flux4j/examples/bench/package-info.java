/**
 * Benchmarks. JMH benchmarks of the pure-Java parts of the library (dequantization throughput;
 * each class's {@code main} runs it with short settings and prints GB/s), and plain programs that
 * time the FLUX transformer: {@link io.github.flux4j.examples.bench.TinyTransformerBenchmark} (the
 * tiny test model on the CPU, per weight type and compute dtype) and
 * {@link io.github.flux4j.examples.bench.TransformerBenchmark} (a FLUX.1-dev-shaped GGUF on a GPU;
 * with {@code --count-kernels} it counts kernels per step through CUPTI, {@code KernelTrace}).
 * Results and how to rerun them: {@code BENCHMARKS.md}.
 */
@NullMarked
package io.github.flux4j.examples.bench;

import org.jspecify.annotations.NullMarked;
