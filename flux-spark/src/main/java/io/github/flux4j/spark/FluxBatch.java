package io.github.flux4j.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import io.github.flux4j.pipeline.ImageFiles;
import io.github.flux4j.spark.output.AtomicFiles;
import io.github.flux4j.spark.output.OutputLayout;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.HashPartitioner;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.DataFrameWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Batch text-to-image on Spark: reads a table of {@link ImageRequest}s, generates every image on
 * the executors and writes them, with a results table, under an output URI.
 *
 * <pre>{@code
 * SparkSession spark = SparkSession.builder().appName("flux4j batch").getOrCreate();
 * BatchSummary summary = FluxBatch.builder()
 *         .model(ModelSpec.of("/models/flux1-dev-Q8_0.gguf", "black-forest-labs/FLUX.1-dev"))
 *         .output("s3a://bucket/batches/2026-12-04")
 *         .build()
 *         .run(spark, RequestTables.read(spark, "s3a://bucket/requests.parquet", null));
 * System.out.print(summary.report());
 * }</pre>
 *
 * <h2>How it runs</h2>
 * The requests are spread evenly over {@code partitions} tasks (default: one per request, at most
 * {@value #MAX_DEFAULT_PARTITIONS}). Each executor keeps one {@link io.github.flux4j.pipeline.FluxPipeline}
 * per GPU (the one Spark's resource scheduling assigns the task), loaded by its first task and
 * reused by every later one; CPU executors work too. Output files are named after (id, seed,
 * image index) ({@link OutputLayout}) and written atomically ({@link AtomicFiles}); a request's
 * completion marker is written after its images.
 *
 * <h2>Deterministic and idempotent</h2>
 * The same request (and model, dtype, device kind, image format) gives the same bytes on every
 * run and attempt, so a retried or speculative task rewrites identical files. A request whose
 * marker matches and whose images exist is skipped: running a batch again does no generation,
 * and a half-finished batch resumes where it stopped.
 *
 * <h2>Failures</h2>
 * A request that cannot be generated (bad options, a pipeline error such as CUDA out of memory)
 * gets a {@value ResultsTable#FAILED} row with its error; with {@link Builder#failFast(boolean)}
 * the batch stops instead (requests are then checked before any generation). A pipeline that
 * cannot load or an output that cannot be written fails the task; Spark retries it up to
 * {@code spark.task.maxFailures} times.
 */
public final class FluxBatch {
    private static final Logger LOG = LoggerFactory.getLogger(FluxBatch.class);
    /** The most partitions used by default (one request per task below this). */
    public static final int MAX_DEFAULT_PARTITIONS = 10_000;

    /** How the results table is written. */
    public enum ResultsFormat {
        /** Apache Parquet (default). */
        PARQUET,
        /** JSON Lines. */
        JSON,
        /** CSV with a header line. */
        CSV
    }

    private final ModelSpec model;
    private final String output;
    private final ImageFiles.Format imageFormat;
    private final float jpegQuality;
    private final boolean failFast;
    private final @Nullable Integer partitions;
    private final ResultsFormat resultsFormat;
    private final @Nullable BatchProgressListener progressListener;

    private FluxBatch(Builder b) {
        this.model = Objects.requireNonNull(b.model, "model");
        this.output = Objects.requireNonNull(b.output, "output");
        this.imageFormat = b.imageFormat;
        this.jpegQuality = b.jpegQuality;
        this.failFast = b.failFast;
        this.partitions = b.partitions;
        this.resultsFormat = b.resultsFormat;
        this.progressListener = b.progressListener;
    }

    /** A builder; {@link Builder#model} and {@link Builder#output} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Reads the request table at {@code requestsUri} and runs the batch.
     *
     * @param format null to tell it from the name
     * @see #run(SparkSession, Dataset)
     */
    public BatchSummary run(SparkSession spark, String requestsUri, RequestTables.@Nullable Format format) {
        return run(spark, RequestTables.read(spark, requestsUri, format));
    }

    /**
     * Generates the images of {@code requests} ({@link ImageRequest}'s columns) and writes them,
     * the completion markers and the results table under the output URI.
     *
     * @return the counts and throughput, from the results table
     * @throws IllegalArgumentException if the table lacks {@code id} or {@code prompt}, or holds an id twice
     * @throws FluxBatchException       if a request is bad and fail-fast is on, or the job failed
     *                                  (a pipeline that does not load, an output that cannot be written)
     */
    public BatchSummary run(SparkSession spark, Dataset<Row> requests) {
        Dataset<Row> table = RequestTables.normalize(requests);
        checkUniqueIds(table);
        if (failFast) {
            checkRequests(table);
        }
        long count = table.count();
        int parts = partitions != null ? partitions : (int) Math.max(1, Math.min(count, MAX_DEFAULT_PARTITIONS));

        SparkContext sc = spark.sparkContext();
        Configuration hadoop = sc.hadoopConfiguration();
        OutputLayout layout;
        FileSystem fs;
        try {
            Path root = new Path(output);
            fs = AtomicFiles.fileSystem(root, hadoop);
            layout = new OutputLayout(fs.makeQualified(root).toString());
            fs.mkdirs(layout.imagesDir());
            fs.mkdirs(layout.completeDir());
        } catch (IOException | IllegalArgumentException e) {
            throw new FluxBatchException("cannot create the output folder " + output + ": " + e.getMessage(), e);
        }
        Broadcast<byte[]> conf = JavaSparkContext.fromSparkContext(sc).broadcast(serialize(hadoop));
        BatchMetrics metrics = new BatchMetrics(sc);
        String group = "flux4j-" + UUID.randomUUID();
        BatchProgressTracker tracker = new BatchProgressTracker(group, metrics, count, progressListener);
        sc.addSparkListener(tracker);
        sc.setJobGroup(group, "flux4j: " + count + " requests -> " + layout.root(), false);
        LOG.info("flux4j batch: {} requests in {} tasks -> {}", count, parts, layout.root());
        long t0 = System.nanoTime();
        try {
            PartitionWorker worker =
                    new PartitionWorker(model, layout, imageFormat, jpegQuality, failFast, conf, metrics);
            JavaRDD<Row> rows = table.toJavaRDD()
                    .zipWithIndex()
                    .mapToPair(t -> new Tuple2<>(t._2(), t._1()))
                    .partitionBy(new HashPartitioner(parts)) // request k in task k % parts: an even spread
                    .values()
                    .mapPartitions(worker);
            // One file: the generation keeps its tasks; only the small table is gathered.
            writer(spark.createDataFrame(rows, ResultsTable.SCHEMA).repartition(1))
                    .save(layout.resultsDir().toString());
        } catch (Exception e) { // SparkException is checked, but Scala throws it undeclared
            throw new FluxBatchException("the flux4j batch failed: " + rootMessage(e), e);
        } finally {
            sc.clearJobGroup();
            sc.removeSparkListener(tracker);
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        try {
            int n = AtomicFiles.deleteTemporaries(fs, layout.imagesDir())
                    + AtomicFiles.deleteTemporaries(fs, layout.completeDir());
            if (n > 0) {
                LOG.info("deleted {} temporary file(s) left by killed task attempts", n);
            }
        } catch (IOException e) {
            LOG.warn("cannot delete the temporary files of killed task attempts: {}", e.toString());
        }
        BatchSummary summary = summarize(spark, layout, count, elapsed);
        LOG.info("flux4j batch done:\n{}", summary.report());
        return summary;
    }

    private DataFrameWriter<Row> writer(Dataset<Row> results) {
        DataFrameWriter<Row> w = results.write().mode(SaveMode.Overwrite);
        return switch (resultsFormat) {
            case PARQUET -> w.format("parquet");
            case JSON -> w.format("json");
            case CSV -> w.format("csv").option("header", "true");
        };
    }

    private DataFrameReader reader(SparkSession spark) {
        DataFrameReader r = spark.read().schema(ResultsTable.SCHEMA);
        return switch (resultsFormat) {
            case PARQUET -> r.format("parquet");
            case JSON -> r.format("json");
            case CSV -> r.format("csv").option("header", "true");
        };
    }

    private BatchSummary summarize(SparkSession spark, OutputLayout layout, long requests, Duration elapsed) {
        Dataset<Row> r = reader(spark).load(layout.resultsDir().toString());
        Row c = r.agg(
                        count(when(
                                col("status")
                                        .equalTo(ResultsTable.GENERATED)
                                        .and(col("image_index").equalTo(0)),
                                lit(1))),
                        count(when(
                                col("status")
                                        .equalTo(ResultsTable.SKIPPED)
                                        .and(col("image_index").equalTo(0)),
                                lit(1))),
                        count(when(col("status").equalTo(ResultsTable.FAILED), lit(1))),
                        count(when(col("status").equalTo(ResultsTable.GENERATED), lit(1))),
                        count(col("path")))
                .first();
        List<BatchSummary.DeviceThroughput> devices = new ArrayList<>();
        for (Row d : r.filter(col("status").equalTo(ResultsTable.GENERATED))
                .groupBy(col("executor"), col("device"))
                .agg(
                        count(when(col("image_index").equalTo(0), lit(1))),
                        count(lit(1)),
                        sum(when(col("image_index").equalTo(0), col("total_ms"))))
                .orderBy(col("executor"), col("device"))
                .collectAsList()) {
            double busyMs = d.isNullAt(4) ? 0 : d.getDouble(4);
            devices.add(new BatchSummary.DeviceThroughput(
                    d.getString(0),
                    d.getString(1),
                    d.getLong(2),
                    d.getLong(3),
                    Duration.ofNanos(Math.round(busyMs * 1e6))));
        }
        return new BatchSummary(
                requests,
                c.getLong(0),
                c.getLong(1),
                c.getLong(2),
                c.getLong(3),
                c.getLong(4),
                elapsed,
                devices,
                layout.resultsDir().toString());
    }

    private static void checkUniqueIds(Dataset<Row> table) {
        List<Row> dup = table.filter(col("id").isNotNull())
                .groupBy(col("id"))
                .count()
                .filter(col("count").gt(1))
                .limit(5)
                .collectAsList();
        if (!dup.isEmpty()) {
            List<String> ids = dup.stream()
                    .map(r -> "'" + r.get(0) + "' (" + r.getLong(1) + " times)")
                    .toList();
            throw new IllegalArgumentException("the request table holds an id more than once: " + String.join(", ", ids)
                    + (dup.size() == 5 ? " and maybe more" : "")
                    + "; every request needs its own id (it names its files)");
        }
    }

    /** With fail-fast, a bad request stops the batch before any model loads. */
    private static void checkRequests(Dataset<Row> table) {
        List<String> bad = table.toJavaRDD()
                .map(row -> {
                    try {
                        ImageRequest.fromRow(row);
                        return "";
                    } catch (IllegalArgumentException e) {
                        String id = ImageRequest.idOf(row);
                        return "request " + (id == null ? "(no id)" : "'" + id + "'") + ": " + e.getMessage();
                    }
                })
                .filter(s -> !s.isEmpty())
                .take(5);
        if (!bad.isEmpty()) {
            throw new FluxBatchException("bad requests (fail-fast): " + String.join("; ", bad));
        }
    }

    private static byte[] serialize(Configuration conf) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(buf)) {
            conf.write(out);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize the Hadoop configuration", e);
        }
        return buf.toByteArray();
    }

    /** The message of the innermost flux4j failure in Spark's wrapping, else of the exception itself. */
    private static String rootMessage(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PartitionWorker.RequestFailedException || t instanceof ExecutorPipelines.LoadException) {
                return String.valueOf(t.getMessage());
            }
        }
        // Spark's message holds the executor's stack trace: its first line says enough.
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    /** Configures a {@link FluxBatch}. */
    public static final class Builder {
        private @Nullable ModelSpec model;
        private @Nullable String output;
        private ImageFiles.Format imageFormat = ImageFiles.Format.PNG;
        private float jpegQuality = ImageFiles.DEFAULT_JPEG_QUALITY;
        private boolean failFast;
        private @Nullable Integer partitions;
        private ResultsFormat resultsFormat = ResultsFormat.PARQUET;
        private @Nullable BatchProgressListener progressListener;

        private Builder() {}

        /** The model the executors load (required). */
        public Builder model(ModelSpec spec) {
            this.model = Objects.requireNonNull(spec, "model");
            return this;
        }

        /** The output URI (required): a folder on any Hadoop file system ({@code file:}, {@code hdfs:}, {@code s3a:}, ...). */
        public Builder output(String uri) {
            Objects.requireNonNull(uri, "output");
            if (uri.isBlank()) {
                throw new IllegalArgumentException("output: empty URI");
            }
            this.output = uri;
            return this;
        }

        /** PNG (default) or JPEG. */
        public Builder imageFormat(ImageFiles.Format format) {
            this.imageFormat = Objects.requireNonNull(format, "imageFormat");
            return this;
        }

        /**
         * The JPEG quality, 0 to 1 (default {@value ImageFiles#DEFAULT_JPEG_QUALITY}).
         *
         * @throws IllegalArgumentException outside [0, 1]
         */
        public Builder jpegQuality(float quality) {
            if (!(quality >= 0f && quality <= 1f)) {
                throw new IllegalArgumentException("jpegQuality must be in [0, 1], got " + quality);
            }
            this.jpegQuality = quality;
            return this;
        }

        /** Stop at the first failed request instead of recording it (default: record and go on). */
        public Builder failFast(boolean failFast) {
            this.failFast = failFast;
            return this;
        }

        /**
         * The number of tasks (default: one per request, at most {@value #MAX_DEFAULT_PARTITIONS}).
         *
         * @throws IllegalArgumentException if below 1
         */
        public Builder partitions(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("partitions must be at least 1, got " + n);
            }
            this.partitions = n;
            return this;
        }

        /** The results table's format (default Parquet). */
        public Builder resultsFormat(ResultsFormat format) {
            this.resultsFormat = Objects.requireNonNull(format, "resultsFormat");
            return this;
        }

        /** Told on the driver as tasks end (default: progress is logged at INFO only). */
        public Builder progressListener(@Nullable BatchProgressListener listener) {
            this.progressListener = listener;
            return this;
        }

        /**
         * The batch.
         *
         * @throws IllegalStateException if the model or the output is missing
         */
        public FluxBatch build() {
            if (model == null) {
                throw new IllegalStateException(
                        "FluxBatch: no model; call model(ModelSpec.of(transformer, baseModel))");
            }
            if (output == null) {
                throw new IllegalStateException("FluxBatch: no output; call output(uri)");
            }
            return new FluxBatch(this);
        }
    }
}
