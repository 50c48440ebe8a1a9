/**
 * Command-line tools that make test inputs, such as {@link io.github.flux4j.examples.tools.SyntheticFluxGguf}
 * (a FLUX transformer GGUF with random weights and the real tensor names and shapes).
 */
@NullMarked
package io.github.flux4j.examples.tools;

import org.jspecify.annotations.NullMarked;
