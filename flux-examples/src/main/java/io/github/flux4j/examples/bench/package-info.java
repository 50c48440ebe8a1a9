/**
 * JMH benchmarks of the pure-Java parts of the library (dequantization throughput). Each
 * benchmark class has a {@code main} that runs it with short settings and prints GB/s.
 */
@NullMarked
package io.github.flux4j.examples.bench;

import org.jspecify.annotations.NullMarked;
