package io.github.flux4j.spark.cli;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.pipeline.ImageFiles;
import io.github.flux4j.pipeline.Offload;
import io.github.flux4j.spark.BatchSummary;
import io.github.flux4j.spark.DevicePolicy;
import io.github.flux4j.spark.FluxBatch;
import io.github.flux4j.spark.FluxBatchException;
import io.github.flux4j.spark.ModelSpec;
import io.github.flux4j.spark.RequestTables;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The batch as a {@code spark-submit} job:
 *
 * <pre>
 * spark-submit --class io.github.flux4j.spark.cli.FluxSparkJob ... flux-spark.jar \
 *     --requests s3a://bucket/requests.parquet --output s3a://bucket/out \
 *     --transformer /models/flux1-dev-Q8_0.gguf --base-model black-forest-labs/FLUX.1-dev
 * </pre>
 *
 * Exit status: 0 when the batch ran (failed requests are listed in the results table and counted
 * in the summary; with {@code --fail-fast} they stop the batch), 1 when it did not, 2 for a usage
 * error. The Spark session is the one {@code spark-submit} configures ({@code --master}, {@code --conf}).
 */
@Command(
        name = "flux-spark",
        mixinStandardHelpOptions = true,
        version = "flux4j flux-spark 0.1.0",
        sortOptions = false,
        description = {
            "Generates the images of a table of requests on a Spark cluster, one FLUX pipeline per"
                    + " executor GPU, and writes them with a results table under an output URI. Re-running a batch"
                    + " skips what is complete.",
            ""
        })
public final class FluxSparkJob implements Callable<Integer> {
    @Option(
            names = "--requests",
            required = true,
            paramLabel = "URI",
            description = "The request table (Parquet, CSV with a header, or JSON Lines): columns id, prompt and"
                    + " optionally seed, width, height, steps, guidance, images_per_prompt.")
    private String requests = "";

    @Option(
            names = "--format",
            paramLabel = "FORMAT",
            description = "The request table's format: parquet, csv or json (default: from the name).")
    private RequestTables.@Nullable Format format;

    @Option(
            names = {"-o", "--output"},
            required = true,
            paramLabel = "URI",
            description = "Where images/, _complete/ and results/ go: any Hadoop file system URI.")
    private String output = "";

    @Option(
            names = "--transformer",
            required = true,
            paramLabel = "PATH",
            description =
                    "The transformer (GGUF, BFL safetensors or diffusers folder), at this path on every executor.")
    private String transformer = "";

    @Option(
            names = "--base-model",
            required = true,
            paramLabel = "PATH|REPO",
            description =
                    "The FLUX.1 base model folder on every executor, or a repo id in the executors' Hugging Face cache.")
    private String baseModel = "";

    @Option(names = "--t5-gguf", paramLabel = "PATH", description = "A T5 encoder GGUF instead of the base model's.")
    private @Nullable String t5Gguf;

    @Option(
            names = "--dtype",
            paramLabel = "DTYPE",
            description = "bf16, f16 or f32 (default: bf16 on GPUs, f32 on CPUs).")
    private @Nullable DtypeOption dtype;

    @Option(
            names = "--offload",
            paramLabel = "MODE",
            description = "none (default) or model: each model on the GPU only while it runs.")
    private Offload offload = Offload.NONE;

    @Option(
            names = "--device",
            paramLabel = "POLICY",
            description = "auto (default: the task's Spark-assigned GPU, else cuda:0 if usable, else CPU), gpu"
                    + " (a task without an assigned GPU fails) or cpu.")
    private DevicePolicy device = DevicePolicy.AUTO;

    @Option(names = "--image-format", paramLabel = "FORMAT", description = "png (default) or jpeg.")
    private ImageFiles.Format imageFormat = ImageFiles.Format.PNG;

    @Option(names = "--jpeg-quality", paramLabel = "Q", description = "JPEG quality, 0 to 1 (default 0.95).")
    private float jpegQuality = ImageFiles.DEFAULT_JPEG_QUALITY;

    @Option(
            names = "--partitions",
            paramLabel = "N",
            description =
                    "Number of tasks (default: one per request, at most " + FluxBatch.MAX_DEFAULT_PARTITIONS + ").")
    private @Nullable Integer partitions;

    @Option(names = "--results-format", paramLabel = "FORMAT", description = "parquet (default), json or csv.")
    private FluxBatch.ResultsFormat resultsFormat = FluxBatch.ResultsFormat.PARQUET;

    @Option(names = "--fail-fast", description = "Stop at the first failed request (default: record it and go on).")
    private boolean failFast;

    @CommandLine.Spec
    private CommandLine.Model.@Nullable CommandSpec spec;

    /** The compute dtypes, as typed. */
    enum DtypeOption {
        bf16(ComputeDtype.BF16),
        f16(ComputeDtype.F16),
        f32(ComputeDtype.F32);

        final ComputeDtype dtype;

        DtypeOption(ComputeDtype dtype) {
            this.dtype = dtype;
        }
    }

    /** Runs the job in the session {@code spark-submit} configured, stops it, and exits with the status. */
    public static void main(String[] args) {
        int status = run(
                new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8),
                args);
        SparkSession.getActiveSession().foreach(s -> {
            s.stop();
            return null;
        });
        System.exit(status);
    }

    /** Runs the job with the given output streams in the active (or a new) Spark session; returns the status. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cmd = new CommandLine(new FluxSparkJob());
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setCaseInsensitiveEnumValuesAllowed(true);
        cmd.setOverwrittenOptionsAllowed(true);
        cmd.setParameterExceptionHandler((e, a) -> {
            CommandLine c = e.getCommandLine();
            c.getErr().println("flux-spark: " + e.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(e, c.getErr())) {
                c.getErr().println("Try 'flux-spark --help' for the options.");
            }
            return CommandLine.ExitCode.USAGE;
        });
        cmd.setExecutionExceptionHandler((e, c, parsed) -> {
            c.getErr()
                    .println("flux-spark: "
                            + (e instanceof FluxBatchException || e instanceof IllegalArgumentException
                                    ? e.getMessage()
                                    : e.toString()));
            return CommandLine.ExitCode.SOFTWARE;
        });
        int status = cmd.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    @Override
    public Integer call() {
        CommandLine cl = spec().commandLine();
        if (!(jpegQuality >= 0f && jpegQuality <= 1f)) {
            throw new CommandLine.ParameterException(cl, "--jpeg-quality must be in [0, 1], got " + jpegQuality);
        }
        if (partitions != null && partitions < 1) {
            throw new CommandLine.ParameterException(cl, "--partitions must be at least 1, got " + partitions);
        }
        if (format == null) {
            try {
                RequestTables.Format.forUri(requests);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, "--requests: " + e.getMessage() + " (--format)");
            }
        }
        ModelSpec model;
        try {
            model = new ModelSpec(transformer, baseModel, t5Gguf, dtype == null ? null : dtype.dtype, offload, device);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
        FluxBatch.Builder b = FluxBatch.builder()
                .model(model)
                .output(output)
                .imageFormat(imageFormat)
                .jpegQuality(jpegQuality)
                .failFast(failFast)
                .resultsFormat(resultsFormat);
        if (partitions != null) {
            b.partitions(partitions);
        }
        SparkSession spark = SparkSession.builder().appName("flux4j batch").getOrCreate();
        BatchSummary summary = b.build().run(spark, requests, format);
        PrintWriter out = cl.getOut();
        out.print(summary.report());
        out.flush();
        return CommandLine.ExitCode.OK;
    }

    private CommandLine.Model.CommandSpec spec() {
        if (spec == null) {
            throw new IllegalStateException("picocli did not inject the command spec");
        }
        return spec;
    }
}
