/**
 * Where a batch's files go, through Hadoop's {@code FileSystem} (local, HDFS, S3A, ...): the
 * names derived from each request ({@link io.github.flux4j.spark.output.OutputLayout}), atomic
 * writes ({@link io.github.flux4j.spark.output.AtomicFiles}) and the completion markers that make a
 * re-run skip finished requests ({@link io.github.flux4j.spark.output.CompletionMarker}).
 */
@NullMarked
package io.github.flux4j.spark.output;

import org.jspecify.annotations.NullMarked;
