/**
 * The {@code spark-submit} job: {@link io.github.flux4j.spark.cli.FluxSparkJob}.
 */
@NullMarked
package io.github.flux4j.spark.cli;

import org.jspecify.annotations.NullMarked;
