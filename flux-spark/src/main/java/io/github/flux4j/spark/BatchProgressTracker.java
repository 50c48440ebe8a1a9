package io.github.flux4j.spark;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The driver's view of a batch: on each task of its jobs' stages, the progress from the accumulators. */
final class BatchProgressTracker extends SparkListener {
    private static final Logger LOG = LoggerFactory.getLogger(BatchProgressTracker.class);

    private final String group;
    private final BatchMetrics metrics;
    private final long requests;
    private final @Nullable BatchProgressListener listener;
    private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
    private final long start = System.nanoTime();
    private volatile long lastDone = -1;

    BatchProgressTracker(String group, BatchMetrics metrics, long requests, @Nullable BatchProgressListener listener) {
        this.group = group;
        this.metrics = metrics;
        this.requests = requests;
        this.listener = listener;
    }

    @Override
    public void onJobStart(SparkListenerJobStart jobStart) {
        if (jobStart.properties() != null && group.equals(jobStart.properties().getProperty("spark.jobGroup.id"))) {
            for (StageInfo s : scala.jdk.javaapi.CollectionConverters.asJava(jobStart.stageInfos())) {
                stages.add(s.stageId());
            }
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
        if (!stages.contains(taskEnd.stageId())) {
            return;
        }
        long done = metrics.requests.value();
        if (done == lastDone) {
            return; // a task of another stage of the job, or a failed attempt: nothing new
        }
        lastDone = done;
        BatchProgress p = new BatchProgress(
                done,
                requests,
                metrics.generated.value(),
                metrics.skipped.value(),
                metrics.failed.value(),
                metrics.images.value(),
                Duration.ofNanos(System.nanoTime() - start));
        LOG.info(
                "flux4j batch: {}/{} requests ({} generated, {} skipped, {} failed), {} images, {} images/s",
                p.requestsDone(),
                p.requests(),
                p.generated(),
                p.skipped(),
                p.failed(),
                p.images(),
                String.format(java.util.Locale.ROOT, "%.3f", p.imagesPerSecond()));
        if (listener != null) {
            try {
                listener.onProgress(p);
            } catch (RuntimeException e) {
                LOG.warn("the batch's progress listener failed: {}", e.toString());
            }
        }
    }
}
