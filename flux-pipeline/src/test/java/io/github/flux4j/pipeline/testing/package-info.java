/** Test support: reference data of tools/reference/*.py. */
@NullMarked
package io.github.flux4j.pipeline.testing;

import org.jspecify.annotations.NullMarked;
