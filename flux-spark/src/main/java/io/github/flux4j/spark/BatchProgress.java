package io.github.flux4j.spark;

import java.time.Duration;

/**
 * How far a batch is, as its accumulators say (successful task attempts only).
 *
 * @param requestsDone requests finished (generated, skipped or failed)
 * @param requests     requests in the batch
 * @param generated    requests generated
 * @param skipped      requests that were already complete
 * @param failed       requests that failed
 * @param images       images written
 * @param elapsed      since the batch's job started
 */
public record BatchProgress(
        long requestsDone, long requests, long generated, long skipped, long failed, long images, Duration elapsed) {
    /** Images written per second so far. */
    public double imagesPerSecond() {
        double s = elapsed.toNanos() / 1e9;
        return s > 0 ? images / s : 0;
    }
}
