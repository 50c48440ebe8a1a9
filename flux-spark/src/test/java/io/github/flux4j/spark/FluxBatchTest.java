package io.github.flux4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.examples.demo.DemoModel;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.pipeline.GenerationOptions;
import io.github.flux4j.pipeline.GenerationResult;
import io.github.flux4j.pipeline.ImageFiles;
import io.github.flux4j.spark.output.AtomicFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The batch on Spark {@code local[2,3]} (two task slots, a task may fail twice) with the demo
 * model on the CPU: every image must be byte for byte the one a single-process
 * {@link FluxPipeline} makes for the same request.
 */
class FluxBatchTest {
    private static final int SIDE = 16;
    private static final int STEPS = 2;
    private static final StructType REQUESTS = new StructType()
            .add("id", DataTypes.StringType)
            .add("prompt", DataTypes.StringType)
            .add("seed", DataTypes.LongType)
            .add("width", DataTypes.IntegerType)
            .add("height", DataTypes.IntegerType)
            .add("steps", DataTypes.IntegerType)
            .add("guidance", DataTypes.DoubleType)
            .add("images_per_prompt", DataTypes.IntegerType);

    private static final Map<String, List<byte[]>> REFERENCES = new HashMap<>();
    private static SparkSession spark;
    private static ModelSpec spec;
    private static FluxPipeline reference;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws IOException {
        DemoModel demo = DemoModel.ensureIn(Path.of("target", "demo-cache"));
        spec = ModelSpec.of(demo.transformer().toString(), demo.baseModel().toString())
                .withDevices(DevicePolicy.CPU);
        reference = FluxPipeline.builder()
                .transformer(demo.transformer())
                .baseModel(demo.baseModel())
                .device(FluxDevice.cpu())
                .computeDtype(ComputeDtype.F32)
                .build();
        spark = SparkSession.builder()
                .master("local[2,3]")
                .appName("flux-spark test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.default.parallelism", "2")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.hadoop.fs." + FaultyFileSystem.SCHEME + ".impl", FaultyFileSystem.class.getName())
                .config("spark.hadoop.fs." + FaultyFileSystem.SCHEME + ".impl.disable.cache", "true")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
        ExecutorPipelines.closeAll();
        if (reference != null) {
            reference.close();
        }
    }

    private static Row request(
            String id, String prompt, @Nullable Long seed, @Nullable Integer side, @Nullable Integer n) {
        return RowFactory.create(id, prompt, seed, side, side, STEPS, 4.0, n);
    }

    private static List<Row> fiveRequests() {
        return List.of(
                request("cat", "a cat", 1L, SIDE, null),
                request("dog", "a dog on a skateboard", 2L, SIDE, 2),
                request("no-seed", "a lighthouse at dusk", null, SIDE, null),
                request("wide/id:1", "a red fox", 4L, SIDE, null),
                request("tall", "a blue bird", 5L, 32, null));
    }

    /** The files a single-process pipeline makes for the row (cached: the tests share requests). */
    private static List<byte[]> expected(Row r, ImageFiles.Format format) throws IOException {
        String key = r.mkString("|") + "|" + format;
        List<byte[]> known = REFERENCES.get(key);
        if (known == null) {
            known = generate(r, format);
            REFERENCES.put(key, known);
        }
        return known;
    }

    private static List<byte[]> generate(Row r, ImageFiles.Format format) throws IOException {
        ImageRequest req = ImageRequest.fromRow(new org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema(
                new Object[] {r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7)},
                REQUESTS));
        GenerationOptions.Builder o = GenerationOptions.builder()
                .seed(req.seed())
                .size(req.height(), req.width())
                .steps(STEPS)
                .guidanceScale(4.0)
                .numImagesPerPrompt(r.isNullAt(7) ? 1 : r.getInt(7));
        GenerationResult g = reference.generate(r.getString(1), o.build());
        List<byte[]> files = new ArrayList<>();
        for (int i = 0; i < g.images().size(); i++) {
            files.add(ImageFiles.encode(g.image(i), format, ImageFiles.DEFAULT_JPEG_QUALITY));
        }
        return files;
    }

    private Dataset<Row> table(List<Row> rows) {
        return spark.createDataFrame(rows, REQUESTS);
    }

    private static FluxBatch batch(String output) {
        return FluxBatch.builder().model(spec).output(output).build();
    }

    private List<Row> results(Path out) {
        return spark.read()
                .parquet(out.resolve("results").toString())
                .orderBy("id", "image_index")
                .collectAsList();
    }

    private static byte[] bytesAt(String uri) throws IOException {
        return Files.readAllBytes(
                Path.of(java.net.URI.create(uri.replaceFirst("^" + FaultyFileSystem.SCHEME + ":", "file:"))));
    }

    private static List<String> hiddenOrTemporary(Path out) throws IOException {
        try (Stream<Path> files = Files.walk(out)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(AtomicFiles.TEMP_SUFFIX) || n.endsWith(".crc") && !n.startsWith(".part"))
                    .filter(n -> !n.startsWith(".part-") && !n.equals("._SUCCESS.crc"))
                    .toList();
        }
    }

    private static void assertMatchesReference(List<Row> rows, List<Row> requests, ImageFiles.Format format)
            throws IOException {
        Map<String, Row> byKey = new HashMap<>();
        for (Row r : rows) {
            assertThat(byKey.put(r.getAs("id") + "#" + r.getAs("image_index"), r))
                    .as("duplicate row")
                    .isNull();
        }
        int images = 0;
        for (Row req : requests) {
            List<byte[]> want = expected(req, format);
            for (int i = 0; i < want.size(); i++) {
                Row got = byKey.get(req.getString(0) + "#" + i);
                assertThat(got).as("results row of %s #%d", req.getString(0), i).isNotNull();
                byte[] file = bytesAt(got.getAs("path"));
                assertThat(file).as("image %s #%d", req.getString(0), i).isEqualTo(want.get(i));
                assertThat((String) got.getAs("sha256")).isEqualTo(PartitionWorker.sha256(file));
                assertThat((String) got.getAs("device")).isEqualTo("cpu");
                assertThat((Integer) got.getAs("steps")).isEqualTo(STEPS);
                images++;
            }
        }
        assertThat(rows).hasSize(images);
    }

    @Test
    void generatesTheSingleProcessImagesAndARerunDoesNoWork() throws IOException {
        Path out = dir.resolve("out");
        List<Row> requests = fiveRequests();
        List<BatchProgress> progress = new ArrayList<>();
        BatchSummary first = FluxBatch.builder()
                .model(spec)
                .output(out.toString())
                .progressListener(progress::add)
                .build()
                .run(spark, table(requests));

        assertThat(first.requests()).isEqualTo(5);
        assertThat(first.generated()).isEqualTo(5);
        assertThat(first.skipped()).isZero();
        assertThat(first.failed()).isZero();
        assertThat(first.imagesWritten()).isEqualTo(6);
        assertThat(first.images()).isEqualTo(6);
        assertThat(first.devices()).singleElement().satisfies(d -> {
            assertThat(d.device()).isEqualTo("cpu");
            assertThat(d.images()).isEqualTo(6);
            assertThat(d.requests()).isEqualTo(5);
        });
        assertThat(progress).isNotEmpty();
        assertThat(progress.get(progress.size() - 1).requestsDone()).isEqualTo(5);
        List<Row> rows = results(out);
        assertMatchesReference(rows, requests, ImageFiles.Format.PNG);
        assertThat(rows).allSatisfy(r -> assertThat((String) r.getAs("status")).isEqualTo(ResultsTable.GENERATED));
        Row noSeed = rows.stream()
                .filter(r -> r.getAs("id").equals("no-seed"))
                .findFirst()
                .orElseThrow();
        assertThat((Long) noSeed.getAs("seed")).isEqualTo(ImageRequest.defaultSeed("no-seed"));
        Row tall = rows.stream()
                .filter(r -> r.getAs("id").equals("tall"))
                .findFirst()
                .orElseThrow();
        assertThat((Integer) tall.getAs("width")).isEqualTo(32);
        assertThat(hiddenOrTemporary(out)).isEmpty();
        try (Stream<Path> images = Files.list(out.resolve("images"))) {
            assertThat(images.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly(
                            "cat_s1_0.png",
                            "dog_s2_0.png",
                            "dog_s2_1.png",
                            "no-seed_s" + ImageRequest.defaultSeed("no-seed") + "_0.png",
                            "tall_s5_0.png",
                            io.github.flux4j.spark.output.OutputLayout.fileId("wide/id:1") + "_s4_0.png");
        }

        // The same batch again: everything is complete, nothing is generated or written.
        Map<Path, FileTime> before = modified(out.resolve("images"));
        BatchSummary second = batch(out.toString()).run(spark, table(requests));
        assertThat(second.generated()).isZero();
        assertThat(second.skipped()).isEqualTo(5);
        assertThat(second.imagesWritten()).isZero();
        assertThat(second.images()).isEqualTo(6);
        assertThat(second.devices()).isEmpty();
        assertThat(modified(out.resolve("images"))).isEqualTo(before);
        List<Row> again = results(out);
        assertThat(again).allSatisfy(r -> assertThat((String) r.getAs("status")).isEqualTo(ResultsTable.SKIPPED));
        assertThat(again.stream().map(r -> (String) r.getAs("sha256")).toList())
                .isEqualTo(rows.stream().map(r -> (String) r.getAs("sha256")).toList());
    }

    @Test
    void resumesAHalfFinishedBatchAndRedoesAChangedRequest() throws IOException {
        Path out = dir.resolve("out");
        List<Row> all = fiveRequests().subList(0, 3);
        batch(out.toString()).run(spark, table(all.subList(0, 2)));
        List<Row> changed = new ArrayList<>(all);
        changed.set(0, request("cat", "a black cat", 1L, SIDE, null)); // same id and seed, another prompt

        BatchSummary s = batch(out.toString()).run(spark, table(changed));
        assertThat(s.skipped()).isEqualTo(1); // dog
        assertThat(s.generated()).isEqualTo(2); // the changed cat, and no-seed
        assertMatchesReference(results(out), changed, ImageFiles.Format.PNG);
    }

    @Test
    void retriesATaskKilledMidWayWithoutDuplicatesOrPartialFiles() throws IOException {
        Path out = dir.resolve("out");
        List<Row> requests = fiveRequests();
        FaultyFileSystem.failed.set(false);
        FaultyFileSystem.failOn.set("tall_s5_0.png");
        BatchSummary s;
        try {
            // two tasks: the killed one has finished requests before it, which its retry skips
            s = FluxBatch.builder()
                    .model(spec)
                    .output(FaultyFileSystem.SCHEME + "://" + out)
                    .partitions(2)
                    .build()
                    .run(spark, table(requests));
        } finally {
            FaultyFileSystem.failOn.set(null);
        }
        assertThat(FaultyFileSystem.failed).isTrue();
        assertThat(s.failed()).isZero();
        assertThat(s.generated() + s.skipped()).isEqualTo(5);
        assertThat(s.images()).isEqualTo(6);
        List<Row> rows = results(out);
        assertMatchesReference(rows, requests, ImageFiles.Format.PNG);
        assertThat(hiddenOrTemporary(out)).isEmpty(); // the killed attempt's partial file is gone
    }

    @Test
    void recordsBadRequestsInTheResultsTableAndFailFastStops() throws IOException {
        Path csv = dir.resolve("requests.csv");
        Files.writeString(csv, """
                id,prompt,seed,width,height,steps,guidance,images_per_prompt
                good,a cat,1,16,16,2,4.0,
                tiny,a cat,1,8,16,2,,
                nosteps,a cat,1,16,16,0,,
                words,a cat,abc,16,16,2,,
                ,no id,1,16,16,2,,
                noprompt,,1,16,16,2,,
                """);
        Path out = dir.resolve("out");
        BatchSummary s = batch(out.toString()).run(spark, csv.toString(), null);
        assertThat(s.generated()).isEqualTo(1);
        assertThat(s.failed()).isEqualTo(5);
        Map<String, String> errors = new HashMap<>();
        for (Row r : results(out)) {
            if (ResultsTable.FAILED.equals(r.getAs("status"))) {
                assertThat((String) r.getAs("path")).isNull();
                errors.put(java.util.Objects.toString(r.getAs("id")), r.getAs("error"));
            }
        }
        assertThat(errors).containsOnlyKeys("tiny", "nosteps", "words", "null", "noprompt");
        assertThat(errors.get("tiny")).isEqualTo("width must be in 16..4096 pixels, got 8");
        assertThat(errors.get("nosteps")).isEqualTo("steps must be in 1..1000, got 0");
        assertThat(errors.get("words")).isEqualTo("seed: expected an integer, got 'abc'");
        assertThat(errors.get("null")).contains("id: missing");
        assertThat(errors.get("noprompt")).isEqualTo("prompt: missing");
        assertThat(bytesAt(results(out).stream()
                        .filter(r -> "good".equals(r.getAs("id")))
                        .findFirst()
                        .orElseThrow()
                        .getAs("path")))
                .isEqualTo(expected(request("good", "a cat", 1L, SIDE, null), ImageFiles.Format.PNG)
                        .get(0));

        Path out2 = dir.resolve("out2");
        assertThatThrownBy(() -> FluxBatch.builder()
                        .model(spec)
                        .output(out2.toString())
                        .failFast(true)
                        .build()
                        .run(spark, csv.toString(), null))
                .isInstanceOf(FluxBatchException.class)
                .hasMessageContaining("request 'tiny': width must be in 16..4096 pixels, got 8");
        assertThat(out2.resolve("images")).doesNotExist(); // checked before any work
    }

    @Test
    void rejectsTablesWithoutIdOrPromptOrWithDuplicateIds() {
        Dataset<Row> dup = table(List.of(request("a", "x", 1L, SIDE, null), request("a", "y", 2L, SIDE, null)));
        assertThatThrownBy(() -> batch(dir.toString()).run(spark, dup))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'a' (2 times)");
        Dataset<Row> noPrompt =
                table(List.of(request("a", "x", 1L, SIDE, null))).drop("prompt");
        assertThatThrownBy(() -> batch(dir.toString()).run(spark, noPrompt))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no column prompt");
    }

    @Test
    void aPipelineThatCannotLoadOrAMissingGpuFailsTheBatchAfterRetries() {
        Dataset<Row> one = table(List.of(request("a", "x", 1L, SIDE, null)));
        ModelSpec missing = ModelSpec.of(dir.resolve("nope.gguf").toString(), spec.baseModel())
                .withDevices(DevicePolicy.CPU);
        assertThatThrownBy(() -> FluxBatch.builder()
                        .model(missing)
                        .output(dir.resolve("o1").toString())
                        .build()
                        .run(spark, one))
                .isInstanceOf(FluxBatchException.class)
                .hasMessageContaining("cannot load the FLUX pipeline on cpu (transformer " + dir.resolve("nope.gguf"));
        assertThatThrownBy(() -> FluxBatch.builder()
                        .model(spec.withDevices(DevicePolicy.GPU))
                        .output(dir.resolve("o2").toString())
                        .build()
                        .run(spark, one))
                .isInstanceOf(FluxBatchException.class)
                .hasMessageContaining("no GPU was assigned to this task")
                .hasMessageContaining("spark.task.resource.gpu.amount");
    }

    @Test
    void theSparkSubmitJobWritesJpegsFromJsonRequests() throws IOException {
        Path json = dir.resolve("requests.jsonl");
        Files.writeString(json, """
                {"id": 7, "prompt": "a cat", "seed": 3, "width": 16, "height": 16, "steps": 2, "guidance": 4.0}
                {"id": 8, "prompt": "a dog", "seed": 4, "width": 16, "height": 16, "steps": 2, "guidance": 4.0}
                """);
        Path out = dir.resolve("out");
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int status = io.github.flux4j.spark.cli.FluxSparkJob.run(
                new PrintWriter(o),
                new PrintWriter(e),
                "--requests",
                json.toString(),
                "--output",
                out.toString(),
                "--transformer",
                spec.transformer(),
                "--base-model",
                spec.baseModel(),
                "--device",
                "cpu",
                "--image-format",
                "jpeg");
        assertThat(e.toString()).isEmpty();
        assertThat(status).isZero();
        assertThat(o.toString()).contains("2 requests: 2 generated, 0 skipped (already complete), 0 failed");
        assertMatchesReference(
                results(out),
                List.of(request("7", "a cat", 3L, SIDE, null), request("8", "a dog", 4L, SIDE, null)),
                ImageFiles.Format.JPEG);

        StringWriter e2 = new StringWriter();
        assertThat(io.github.flux4j.spark.cli.FluxSparkJob.run(
                        new PrintWriter(new StringWriter()),
                        new PrintWriter(e2),
                        "--requests",
                        "r.txt",
                        "--output",
                        out.toString(),
                        "--transformer",
                        "t",
                        "--base-model",
                        "b"))
                .isEqualTo(2);
        assertThat(e2.toString()).contains("cannot tell the format of the request table 'r.txt'");
    }

    private static Map<Path, FileTime> modified(Path folder) throws IOException {
        Map<Path, FileTime> m = new HashMap<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                m.put(p, Files.getLastModifiedTime(p));
            }
        }
        return m;
    }
}
