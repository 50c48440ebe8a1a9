/**
 * What every flux4j module shares: the unchecked {@link io.github.flux4j.FluxException}, base of
 * all exceptions flux4j throws on purpose, and {@link io.github.flux4j.FluxIoException} for I/O
 * failures of the system underneath. See {@code docs/errors.md}.
 */
@NullMarked
package io.github.flux4j;

import org.jspecify.annotations.NullMarked;
