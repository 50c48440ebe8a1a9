/**
 * Runnable programs built on the library: the {@code flux} text-to-image CLI, {@code gguf-info},
 * benchmarks and conversion tools.
 */
@NullMarked
package io.github.flux4j.examples;

import org.jspecify.annotations.NullMarked;
