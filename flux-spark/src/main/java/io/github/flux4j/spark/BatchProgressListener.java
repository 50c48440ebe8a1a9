package io.github.flux4j.spark;

/** Told on the driver each time a task of the batch ends. */
@FunctionalInterface
public interface BatchProgressListener {
    /** Called on Spark's listener thread; keep it short. */
    void onProgress(BatchProgress progress);
}
