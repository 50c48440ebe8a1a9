package io.github.flux4j.spark;

import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.pipeline.GenerationResult;
import io.github.flux4j.pipeline.ImageFiles;
import io.github.flux4j.pipeline.Timings;
import io.github.flux4j.spark.output.AtomicFiles;
import io.github.flux4j.spark.output.CompletionMarker;
import io.github.flux4j.spark.output.OutputLayout;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a task does with its partition of requests, on an executor: for each request, skip it if
 * its completion marker says it is done, else generate it with the executor's pipeline for the
 * task's device, write its images and then its marker, and emit its results rows.
 *
 * <p>A request that cannot be generated (bad options, an error of the pipeline such as CUDA
 * running out of memory) becomes a {@value ResultsTable#FAILED} row, or with fail-fast a task
 * failure. A pipeline that cannot load or an output that cannot be written fails the task, so
 * Spark retries it (elsewhere, after {@code spark.task.maxFailures} the job fails).
 */
final class PartitionWorker implements FlatMapFunction<Iterator<Row>, Row> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(PartitionWorker.class);
    /** The fingerprint's format: a change regenerates every image. */
    private static final String FINGERPRINT_VERSION = "flux4j-spark-1";

    private final ModelSpec spec;
    private final OutputLayout layout;
    private final ImageFiles.Format format;
    private final float jpegQuality;
    private final boolean failFast;
    private final Broadcast<byte[]> hadoopConf;
    private final BatchMetrics metrics;

    PartitionWorker(
            ModelSpec spec,
            OutputLayout layout,
            ImageFiles.Format format,
            float jpegQuality,
            boolean failFast,
            Broadcast<byte[]> hadoopConf,
            BatchMetrics metrics) {
        this.spec = spec;
        this.layout = layout;
        this.format = format;
        this.jpegQuality = jpegQuality;
        this.failFast = failFast;
        this.hadoopConf = hadoopConf;
        this.metrics = metrics;
    }

    /** A request failed and the batch runs fail-fast. */
    static final class RequestFailedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RequestFailedException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    @Override
    public Iterator<Row> call(Iterator<Row> requests) throws IOException {
        ExecutorPipelines.configureNativeMemory();
        TaskContext task = TaskContext.get();
        FluxDevice device = taskDevice(spec.devices(), task);
        Configuration conf = configuration(hadoopConf.value());
        FileSystem fs = AtomicFiles.fileSystem(new Path(layout.root()), conf);
        String tag = task == null
                ? "driver"
                : String.format(
                        Locale.ROOT,
                        "s%d-p%d-a%d-t%d",
                        task.stageId(),
                        task.partitionId(),
                        task.attemptNumber(),
                        task.taskAttemptId());
        Integer cpus = task == null ? null : task.cpus();
        List<Row> out = new ArrayList<>();
        while (requests.hasNext()) {
            out.addAll(process(requests.next(), device, fs, tag, cpus));
            metrics.requests.add(1);
        }
        return out.iterator();
    }

    private List<Row> process(Row row, FluxDevice device, FileSystem fs, String tag, @Nullable Integer cpus)
            throws IOException {
        ImageRequest request;
        try {
            request = ImageRequest.fromRow(row);
        } catch (IllegalArgumentException e) {
            String id = ImageRequest.idOf(row);
            return List.of(failed(id, null, device, "request " + (id == null ? "(no id)" : "'" + id + "'"), e));
        }
        String ext = format == ImageFiles.Format.PNG ? "png" : "jpg";
        String fingerprint = fingerprint(request, device);
        Path markerFile = layout.marker(request.id(), request.seed());
        Optional<CompletionMarker> marker = CompletionMarker.read(fs, markerFile);
        if (marker.isPresent() && isComplete(marker.get(), fingerprint, fs)) {
            metrics.skipped.add(1);
            return rows(marker.get(), ResultsTable.SKIPPED);
        }

        GenerationResult result;
        long[] started = new long[1];
        try {
            result = ExecutorPipelines.with(
                    spec,
                    device,
                    cpus,
                    ms -> {
                        metrics.pipelineLoads.add(1);
                        metrics.loadMs.add(ms);
                    },
                    p -> {
                        started[0] = System.nanoTime(); // a request's time leaves out the pipeline's load
                        return p.generate(request.prompt(), request.options());
                    });
        } catch (ExecutorPipelines.LoadException e) {
            throw e; // the executor's problem: the task fails and is retried
        } catch (RuntimeException e) {
            if (device.isCuda()) {
                Torch.emptyCudaCache(); // after running out of memory, the next request starts clean
            }
            return List.of(failed(request.id(), request.seed(), device, "request '" + request.id() + "'", e));
        }

        long w0 = System.nanoTime();
        List<CompletionMarker.Image> images = new ArrayList<>();
        for (int i = 0; i < result.images().size(); i++) {
            byte[] bytes = ImageFiles.encode(result.image(i), format, jpegQuality);
            Path file = layout.image(request.id(), request.seed(), i, ext);
            AtomicFiles.write(fs, file, bytes, tag);
            images.add(new CompletionMarker.Image(fs.makeQualified(file).toString(), sha256(bytes)));
        }
        Timings t = result.timings();
        double writeMs = millis(System.nanoTime() - w0);
        CompletionMarker done = new CompletionMarker(
                fingerprint,
                request.id(),
                request.seed(),
                result.width(),
                result.height(),
                result.steps(),
                result.guidanceScale(),
                images,
                device.toString(),
                executorName(),
                new CompletionMarker.StageMillis(
                        millis(t.textEncoding().toNanos()),
                        millis(t.denoising().toNanos()),
                        millis(t.decode().toNanos()),
                        writeMs,
                        millis(System.nanoTime() - started[0])),
                result.warnings());
        done.write(fs, markerFile, tag);
        metrics.generated.add(1);
        metrics.images.add(images.size());
        metrics.textEncodingMs.add(done.timings().textEncoding());
        metrics.denoisingMs.add(done.timings().denoising());
        metrics.decodeMs.add(done.timings().decode());
        metrics.writeMs.add(writeMs);
        return rows(done, ResultsTable.GENERATED);
    }

    /** The marker is this request's, and its images are all there. */
    private static boolean isComplete(CompletionMarker marker, String fingerprint, FileSystem fs) throws IOException {
        if (!marker.fingerprint().equals(fingerprint)) {
            return false; // the request changed since (same id and seed, other prompt or options)
        }
        for (CompletionMarker.Image image : marker.images()) {
            if (!fs.exists(new Path(image.uri()))) {
                return false;
            }
        }
        return true;
    }

    private Row failed(@Nullable String id, @Nullable Long seed, FluxDevice device, String what, RuntimeException e) {
        String error = e instanceof IllegalArgumentException ? e.getMessage() : e.toString();
        if (failFast) {
            throw new RequestFailedException(what + " failed: " + error, e);
        }
        LOG.warn("{} failed: {}", what, error);
        metrics.failed.add(1);
        return RowFactory.create(
                id,
                null,
                seed,
                null,
                null,
                ResultsTable.FAILED,
                error,
                null,
                null,
                null,
                null,
                device.toString(),
                executorName(),
                null,
                null,
                null,
                null,
                null,
                null);
    }

    private static List<Row> rows(CompletionMarker m, String status) {
        List<Row> rows = new ArrayList<>();
        String warnings = m.warnings().isEmpty() ? null : String.join("\n", m.warnings());
        CompletionMarker.StageMillis t = m.timings();
        for (int i = 0; i < m.images().size(); i++) {
            CompletionMarker.Image image = m.images().get(i);
            rows.add(RowFactory.create(
                    m.id(),
                    i,
                    m.seed(),
                    image.uri(),
                    image.sha256(),
                    status,
                    null,
                    m.width(),
                    m.height(),
                    m.steps(),
                    m.guidance(),
                    m.device(),
                    m.executor(),
                    t.textEncoding(),
                    t.denoising(),
                    t.decode(),
                    t.write(),
                    t.total(),
                    warnings));
        }
        return rows;
    }

    /** Everything that shapes the request's files; a marker with another fingerprint is stale. */
    private String fingerprint(ImageRequest r, FluxDevice device) {
        String s = FINGERPRINT_VERSION + "|" + spec.identity(device) + "|format=" + format
                + (format == ImageFiles.Format.JPEG ? "@" + jpegQuality : "") + "|seed=" + r.seed() + "|width="
                + r.width() + "|height=" + r.height() + "|steps=" + r.steps() + "|guidance=" + r.guidance() + "|n="
                + r.imagesPerPrompt() + "|prompt=" + r.prompt();
        return sha256(s.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The device of this task: the GPU Spark assigned to it ({@code spark.task.resource.gpu.amount}),
     * else as {@code policy} says.
     */
    static FluxDevice taskDevice(DevicePolicy policy, @Nullable TaskContext task) {
        if (policy == DevicePolicy.CPU) {
            return FluxDevice.cpu();
        }
        Map<String, ResourceInformation> resources = task == null ? Map.of() : task.resourcesJMap();
        ResourceInformation gpu = resources.get("gpu");
        if (gpu != null && gpu.addresses().length > 0) {
            String address = gpu.addresses()[0];
            if (gpu.addresses().length > 1) {
                LOG.warn(
                        "the task was given GPUs {}; flux4j runs one pipeline per GPU and uses {} only",
                        String.join(", ", gpu.addresses()),
                        address);
            }
            try {
                return FluxDevice.cuda(Integer.parseInt(address.strip()));
            } catch (IllegalArgumentException e) {
                throw new ExecutorPipelines.LoadException(
                        "Spark assigned this task GPU address '" + address
                                + "', which is not a CUDA device index: the GPU discovery script must print indices (0, 1, ...)",
                        e);
            }
        }
        if (policy == DevicePolicy.GPU) {
            throw new ExecutorPipelines.LoadException(
                    "no GPU was assigned to this task, and the batch asks for GPUs: set"
                            + " spark.executor.resource.gpu.amount, spark.task.resource.gpu.amount and"
                            + " spark.executor.resource.gpu.discoveryScript (docs/spark.md), or use --device auto",
                    null);
        }
        if (FluxDevice.cudaAvailable()) {
            if (!warnedUnassigned) {
                warnedUnassigned = true;
                LOG.warn("Spark assigned this task no GPU; using cuda:0. On a node with several GPUs or executors, set"
                        + " spark.executor.resource.gpu.amount and spark.task.resource.gpu.amount (docs/spark.md)");
            }
            return FluxDevice.cuda(0);
        }
        return FluxDevice.cpu();
    }

    private static volatile boolean warnedUnassigned;

    private static Configuration configuration(byte[] bytes) {
        Configuration conf = new Configuration(false);
        try {
            conf.readFields(new DataInputStream(new ByteArrayInputStream(bytes)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the driver's Hadoop configuration", e);
        }
        return conf;
    }

    private static volatile @Nullable String executorName;

    /** This executor's id and host, e.g. {@code 3@gpu-node-2}. */
    static String executorName() {
        String name = executorName;
        if (name == null) {
            SparkEnv env = SparkEnv.get();
            String id = env == null ? "?" : env.executorId();
            String host;
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                host = "unknown-host";
            }
            name = id + "@" + host;
            executorName = name;
        }
        return name;
    }

    private static double millis(long nanos) {
        return nanos / 1e6;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
