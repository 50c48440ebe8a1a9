/**
 * The demo model: a tiny FLUX.1-dev-shaped pipeline with random weights, generated
 * deterministically on first use, so that the {@code flux} command runs on a fresh clone without
 * downloading any weights. It draws abstract patterns, not pictures of the prompt.
 */
@NullMarked
package io.github.flux4j.examples.demo;

import org.jspecify.annotations.NullMarked;
