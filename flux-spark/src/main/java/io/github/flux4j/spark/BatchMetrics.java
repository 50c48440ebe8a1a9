package io.github.flux4j.spark;

import java.io.Serializable;
import org.apache.spark.SparkContext;
import org.apache.spark.util.DoubleAccumulator;
import org.apache.spark.util.LongAccumulator;

/**
 * The batch's named accumulators: shown per stage in the Spark UI while the job runs, read by the
 * driver's progress listener. Spark counts the updates of successful task attempts only, so a
 * retried task's work is not counted twice.
 */
final class BatchMetrics implements Serializable {
    private static final long serialVersionUID = 1L;

    final LongAccumulator requests;
    final LongAccumulator generated;
    final LongAccumulator skipped;
    final LongAccumulator failed;
    final LongAccumulator images;
    final LongAccumulator pipelineLoads;
    final DoubleAccumulator loadMs;
    final DoubleAccumulator textEncodingMs;
    final DoubleAccumulator denoisingMs;
    final DoubleAccumulator decodeMs;
    final DoubleAccumulator writeMs;

    BatchMetrics(SparkContext sc) {
        requests = sc.longAccumulator("flux4j requests done");
        generated = sc.longAccumulator("flux4j requests generated");
        skipped = sc.longAccumulator("flux4j requests skipped (complete)");
        failed = sc.longAccumulator("flux4j requests failed");
        images = sc.longAccumulator("flux4j images written");
        pipelineLoads = sc.longAccumulator("flux4j pipeline loads");
        loadMs = sc.doubleAccumulator("flux4j pipeline load ms");
        textEncodingMs = sc.doubleAccumulator("flux4j text encoding ms");
        denoisingMs = sc.doubleAccumulator("flux4j denoising ms");
        decodeMs = sc.doubleAccumulator("flux4j VAE decode ms");
        writeMs = sc.doubleAccumulator("flux4j image write ms");
    }
}
