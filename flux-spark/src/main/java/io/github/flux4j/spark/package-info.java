/**
 * Batch text-to-image on Apache Spark: {@link io.github.flux4j.spark.FluxBatch} reads a table of
 * {@link io.github.flux4j.spark.ImageRequest}s, generates the images on the executors with one
 * {@link io.github.flux4j.pipeline.FluxPipeline} per executor GPU (or CPU), writes them through
 * Hadoop's {@code FileSystem} and returns a {@link io.github.flux4j.spark.BatchSummary}; the
 * results table ({@link io.github.flux4j.spark.ResultsTable}) lists every image or error. Runs are
 * deterministic and idempotent (see {@code docs/spark.md}).
 */
@NullMarked
package io.github.flux4j.spark;

import org.jspecify.annotations.NullMarked;
