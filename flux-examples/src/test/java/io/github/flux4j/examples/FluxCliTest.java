package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.examples.demo.DemoModel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code flux} command end to end on the demo model, in process: small images (64x64, two
 * steps, one thread) so that the whole class takes a few seconds.
 */
class FluxCliTest {
    /** Shared by all tests: the demo model is generated once. */
    @TempDir
    static Path cache;

    @TempDir
    Path dir;

    record Result(int status, String out, String err) {}

    static Result flux(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = FluxCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Result(status, out.toString(), err.toString());
    }

    static Result flux(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = FluxCli.run(new PrintWriter(out, true), new PrintWriter(err, true), env, args);
        return new Result(status, out.toString(), err.toString());
    }

    static Result main(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Result(status, out.toString(), err.toString());
    }

    /** A small, fast demo generation writing {@code file}, plus {@code extra} arguments. */
    private static String[] small(Path file, String... extra) {
        List<String> a = new ArrayList<>(List.of(
                "a lighthouse at dusk",
                "--width",
                "64",
                "--height",
                "64",
                "--steps",
                "2",
                "--threads",
                "1",
                "--cache-dir",
                cache.toString(),
                "--output",
                file.toString()));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void generatesAPngFromTheDemoModelAndTheSameBytesForTheSameSeed() throws IOException {
        Path a = dir.resolve("a.png");
        Result r = flux(small(a, "--seed", "42"));
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out)
                .contains(
                        "Device: cpu, f32",
                        "Demo model",
                        "random weights",
                        "Wrote " + a + " (64x64)",
                        "Seed 42, 2 steps, guidance 3.5, cpu f32",
                        "Timings: load ",
                        "text encoding ",
                        "denoising ",
                        "(2 x ",
                        "decode ");
        // the progress bar, printed once (standard error is not a terminal here)
        assertThat(r.err).contains("Denoising 100%", "2/2 steps");
        BufferedImage img = ImageIO.read(a.toFile());
        assertThat(img).isNotNull();
        assertThat(img.getWidth()).isEqualTo(64);
        assertThat(img.getHeight()).isEqualTo(64);
        assertThat(distinctColours(img)).as("not a flat image").isGreaterThan(100);
        // written atomically: no temporary file left next to it
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("a.png");
        }

        Path b = dir.resolve("sub/b.png");
        assertThat(flux(small(b, "--seed", "42", "--no-progress")).status).isZero();
        assertThat(Files.readAllBytes(b)).isEqualTo(Files.readAllBytes(a));

        Path c = dir.resolve("c.png");
        Result other = flux(small(c, "--seed", "43", "--no-progress"));
        assertThat(other.status).isZero();
        assertThat(other.err).doesNotContain("Denoising");
        assertThat(Files.readAllBytes(c)).isNotEqualTo(Files.readAllBytes(a));
    }

    /**
     * An output path that cannot be written is refused before anything loads (no demo model is
     * generated, no image computed): a folder, a parent that is a file, a read-only folder.
     */
    @Test
    void unwritableOutputPathsAreRefusedBeforeAnyWork() throws IOException {
        Path emptyCache = dir.resolve("empty-cache");
        Path folder = Files.createDirectories(dir.resolve("taken.png"));
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        List<String[]> cases = new ArrayList<>();
        cases.add(new String[] {folder.toString(), "--output: cannot write " + folder + ": it is a folder"});
        cases.add(new String[] {
            file.resolve("x.png").toString(),
            "--output: cannot write " + file.resolve("x.png") + ": " + file + " is a file, not a folder"
        });
        cases.add(new String[] {file.resolve("sub/x.png").toString(), file + " is a file, not a folder"});
        Path readOnly = Files.createDirectories(dir.resolve("read-only"));
        if (Files.getFileStore(readOnly).supportsFileAttributeView(PosixFileAttributeView.class)) {
            Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("r-xr-xr-x"));
            if (!Files.isWritable(readOnly)) { // root may write anyway: then there is nothing to refuse
                cases.add(new String[] {
                    readOnly.resolve("x.png").toString(),
                    "the folder " + readOnly + " is not writable (permission denied)"
                });
            }
        }
        // with several images every numbered file is checked
        Files.createDirectories(dir.resolve("many_2.png"));
        cases.add(new String[] {
            dir.resolve("many.png").toString() + "\0--images\0" + "2",
            "cannot write " + dir.resolve("many_2.png") + ": it is a folder"
        });
        try {
            for (String[] c : cases) {
                List<String> args =
                        new ArrayList<>(List.of("a prompt", "--cache-dir", emptyCache.toString(), "--output"));
                args.addAll(List.of(c[0].split("\0")));
                Result r = flux(args.toArray(String[]::new));
                assertUsage(r, c[1]);
                assertThat(r.out).as("nothing ran").doesNotContain("Demo model", "Device");
            }
        } finally {
            Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        assertThat(emptyCache).as("the demo model was not generated").doesNotExist();
    }

    /**
     * When the image cannot be written after all (here the file name became a folder during the
     * run), it is not lost: it is saved next to it as NAME-seedS.png, and the command says where
     * (status 1).
     */
    @Test
    void anImageThatCannotBeWrittenIsSavedElsewhere() throws IOException {
        Path normal = dir.resolve("normal.png");
        assertThat(flux(small(normal, "--seed", "42", "--no-progress")).status).isZero();

        Path target = dir.resolve("x.png");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = FluxCli.run(
                new PrintWriter(out, true),
                new PrintWriter(err, true),
                file -> {
                    try {
                        Files.writeString(Files.createDirectories(file).resolve("in-the-way"), "x");
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                },
                small(target, "--seed", "42", "--no-progress"));
        Path rescued = dir.resolve("x-seed42.png");
        assertThat(status).as(err.toString()).isEqualTo(1);
        assertThat(err.toString())
                .contains("cannot write " + target, "the image was saved to " + rescued + " instead")
                .doesNotContain("\tat ");
        assertThat(Files.readAllBytes(rescued)).isEqualTo(Files.readAllBytes(normal));
        assertThat(out.toString()).contains("Seed 42").doesNotContain("Wrote");

        // a name that is taken is never replaced
        assertThat(FluxCli.rescueFiles(target, 42).get(0)).isEqualTo(dir.resolve("x-seed42-2.png"));
    }

    /** The device is stated before anything loads, with the reason; CUDA asked for but unusable: CLI words. */
    @Test
    void theDeviceChoiceIsExplained() throws IOException {
        assumeFalse(FluxDevice.cudaAvailable(), "a machine without usable CUDA");
        String reason = FluxDevice.cudaUnavailableReason().orElseThrow();
        Path out = dir.resolve("d.png");
        Result r = flux(small(out, "--seed", "1", "--no-progress"));
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out).startsWith("Device: cpu, f32 (no --device given and CUDA is not usable: " + reason + ")");
        assertThat(r.err).as("the demo model is meant for the CPU: no warning").doesNotContain("warning");

        for (String cuda : List.of("cuda", "cuda:1")) {
            Result c = flux(small(out, "--device", cuda));
            assertThat(c.status).isEqualTo(1);
            assertThat(c.err)
                    .isEqualTo("flux: --device " + cuda + ": CUDA is not usable here: " + reason
                            + ". Use --device cpu (FLUX.1 then takes minutes per step), or the CUDA build (mvn -Pcuda install,"
                            + " CUDA 13 and cuDNN 9 libraries, an NVIDIA GPU; see 'FLUX.1-dev on a GPU' in"
                            + " flux-examples/README.md)" + System.lineSeparator());
            assertThat(c.out).doesNotContain("Demo model");
        }

        // A real model (here the demo's files, named explicitly) on the CPU without --device: a warning.
        DemoModel demo = DemoModel.ensureIn(cache);
        Result real = flux(
                "a prompt",
                "--transformer",
                demo.transformer().toString(),
                "--base-model",
                demo.baseModel().toString(),
                "--width",
                "32",
                "--height",
                "32",
                "--steps",
                "1",
                "--threads",
                "1",
                "--no-progress",
                "--output",
                dir.resolve("r.png").toString());
        assertThat(real.status).as(real.err).isZero();
        assertThat(real.err)
                .contains("flux: warning: running FLUX.1 on the CPU in f32: expect minutes per denoising"
                        + " step (hours per image)");
        Result explicit = flux(
                "a prompt",
                "--transformer",
                demo.transformer().toString(),
                "--base-model",
                demo.baseModel().toString(),
                "--width",
                "32",
                "--height",
                "32",
                "--steps",
                "1",
                "--threads",
                "1",
                "--no-progress",
                "--device",
                "cpu",
                "--output",
                dir.resolve("r.png").toString());
        assertThat(explicit.status).as(explicit.err).isZero();
        assertThat(explicit.out).contains("Device: cpu, f32 (--device cpu)");
        assertThat(explicit.err).doesNotContain("warning");
    }

    /** --version prints the project version (Maven fills it in), for every command. */
    @Test
    void versionPrintsTheProjectVersion() throws IOException {
        String pom = Files.readString(Path.of("pom.xml")); // flux-examples/pom.xml: its parent's version
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                        "<parent>.*?<version>([^<]+)</version>", java.util.regex.Pattern.DOTALL)
                .matcher(pom);
        assertThat(m.find()).isTrue();
        String version = m.group(1);
        assertThat(FluxVersion.version()).isEqualTo(version);
        for (Result r : List.of(
                flux("--version"),
                main("--version"),
                main("generate", "--version"),
                main("gguf-info", "--version"),
                main("synthetic-gguf", "--version"))) {
            assertThat(r.status).isZero();
            assertThat(r.out)
                    .startsWith("flux4j " + version + System.lineSeparator())
                    .contains("org.bytedeco:pytorch:2.")
                    .doesNotContain("${");
        }
    }

    @Test
    void sequentialOffloadAndABudgetPrintThePlanAndDrawTheSameImage() throws IOException {
        Path plain = dir.resolve("plain.png");
        assertThat(flux(small(plain, "--seed", "7", "--no-progress")).status).isZero();
        Path seq = dir.resolve("seq.png");
        Result r = flux(small(seq, "--seed", "7", "--no-progress", "--offload", "sequential"));
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out).contains("memory plan", "blocks resident", "streamed");
        assertThat(Files.readAllBytes(seq)).isEqualTo(Files.readAllBytes(plain));
        Path budget = dir.resolve("budget.png");
        Result b = flux(small(budget, "--seed", "7", "--no-progress", "--vram-budget", "64G"));
        assertThat(b.status).as(b.err).isZero();
        assertThat(b.out).contains("memory plan for a VRAM budget of 64.00 GiB");
        assertThat(Files.readAllBytes(budget)).isEqualTo(Files.readAllBytes(plain));
    }

    @Test
    void severalImagesGetNumberedFilesAndJpegWorks() throws IOException {
        Path out = dir.resolve("many.jpg");
        Result r = flux(small(out, "--images", "2", "--seed", "1", "--no-progress"));
        assertThat(r.status).as(r.err).isZero();
        for (String name : List.of("many_1.jpg", "many_2.jpg")) {
            BufferedImage img = ImageIO.read(dir.resolve(name).toFile());
            assertThat(img.getWidth()).isEqualTo(64);
        }
        assertThat(dir.resolve("many.jpg")).doesNotExist();
        assertThat(r.out).contains("Wrote " + dir.resolve("many_2.jpg"));
    }

    @Test
    void badArgumentsGiveStatus2NamingTheArgument() {
        Path out = dir.resolve("x.png");
        assertUsage(flux(small(out, "--width", "8")), "--width: must be in 16..4096, got 8");
        assertUsage(flux(small(out, "--steps", "0")), "--steps");
        assertUsage(flux(small(out, "--max-sequence-length", "513")), "--max-sequence-length");
        assertUsage(flux(small(out, "--images", "0")), "--images");
        assertUsage(flux(small(out, "--dtype", "bf17")), "--dtype");
        assertUsage(flux(small(out, "--offload", "sometimes")), "--offload");
        assertUsage(flux(small(out, "--device", "tpu")), "--device: device 'tpu' is not one of");
        assertUsage(flux(small(dir.resolve("x.gif"))), "--output: cannot tell the image format");
        assertUsage(flux(small(out, "--seed", "many")), "--seed");
        assertUsage(flux(small(out, "--frobnicate")), "--frobnicate");
        assertUsage(flux("--output", out.toString()), "missing prompt");
        assertUsage(flux(small(out, "--prompt", "twice")), "either PROMPT or --prompt");
        assertUsage(flux(small(out, "--base-model", "/nowhere")), "--base-model needs --transformer");
        assertUsage(flux(small(out, "--vram-budget", "lots")), "'lots' is not a size");
        assertUsage(flux(small(out, "--vram-budget", "0G")), "must be more than zero bytes");
        assertUsage(flux(small(out, "--vram-budget", "6G", "--offload", "model")), "--vram-budget and --offload model");
        assertThat(out).doesNotExist();
    }

    private static void assertUsage(Result r, String message) {
        assertThat(r.status).as(r.err).isEqualTo(2);
        assertThat(r.err).contains(message).doesNotContain("\tat ");
    }

    /**
     * Interrupting the generating thread (as a Ctrl-C does, through the command's cancellation
     * token) stops the run with status 130, saying so, and writes no image.
     */
    @Test
    void anInterruptedRunGivesStatus130() throws Exception {
        DemoModel.ensureIn(cache);
        Path image = dir.resolve("long.png");
        AtomicReference<Result> result = new AtomicReference<>();
        Thread run = new Thread(() -> result.set(
                flux(small(image, "--width", "256", "--height", "256", "--steps", "1000", "--no-progress"))));
        run.start();
        Thread.sleep(2000); // loading, then denoising (1000 steps: minutes)
        assertThat(run.isAlive()).isTrue();
        run.interrupt();
        run.join(TimeUnit.SECONDS.toMillis(60));
        assertThat(run.isAlive()).as("stopped after the interrupt").isFalse();
        assertThat(result.get().status).as(result.get().err).isEqualTo(130);
        assertThat(result.get().err).containsAnyOf("cancelled", "interrupted").doesNotContain("\tat ");
        assertThat(image).doesNotExist();
    }

    @Test
    void missingFilesGiveStatus3NamingTheFile() {
        Path missing = dir.resolve("no-such-model.gguf");
        Result r = flux(
                "a prompt",
                "--transformer",
                missing.toString(),
                "--output",
                dir.resolve("x.png").toString());
        assertThat(r.status).isEqualTo(3);
        assertThat(r.err)
                .contains(missing.toString(), "no such file", "--transformer")
                .doesNotContain("\tat ");
        assertThat(r.err.lines()).hasSize(1);

        Result t5 = flux("a prompt", "--transformer", cache.toString(), "--t5-gguf", missing.toString());
        assertThat(t5.status).isEqualTo(3);
        assertThat(t5.err).contains(missing.toString(), "--t5-gguf");

        // a base model that is not there: the folder is named
        Result base = flux(
                "a prompt",
                "--transformer",
                dir.toString(),
                "--base-model",
                dir.resolve("nowhere").toString(),
                "--output",
                dir.resolve("y.png").toString());
        assertThat(base.status).as(base.err).isEqualTo(3);
        assertThat(base.err).contains(dir.resolve("nowhere").toString()).doesNotContain("\tat ");
    }

    /**
     * Every JSON file of a model folder, cut short: one line naming the file and the position,
     * without Jackson's "Source: REDACTED (StreamReadFeature...)" boilerplate.
     */
    @Test
    void malformedJsonFilesAreNamedWithoutJacksonBoilerplate() throws IOException {
        DemoModel demo = DemoModel.ensureIn(cache);
        List<String> jsons;
        try (Stream<Path> s = Files.walk(demo.baseModel())) {
            jsons = s.filter(p -> p.toString().endsWith(".json"))
                    .map(p -> demo.baseModel().relativize(p).toString())
                    .sorted()
                    .toList();
        }
        assertThat(jsons)
                .contains("model_index.json", "vae/config.json", "tokenizer_2/tokenizer.json", "tokenizer/vocab.json");
        for (String json : jsons) {
            Path copy = dir.resolve("model-" + json.replace('/', '-'));
            copyTree(demo.baseModel(), copy);
            Path broken = copy.resolve(json);
            Files.delete(broken); // a link to the original: replace it with a file of its own
            // cut short by its last character, the closing brace: Jackson's message then embeds
            // "(start marker at [Source: REDACTED (`StreamReadFeature...` disabled); line: 1, column: 1])"
            String text = Files.readString(demo.baseModel().resolve(json)).stripTrailing();
            assertThat(text).endsWith("}");
            Files.writeString(broken, text.substring(0, text.length() - 1));
            Result r = flux(
                    "a prompt",
                    "--transformer",
                    demo.transformer().toString(),
                    "--base-model",
                    copy.toString(),
                    "--device",
                    "cpu",
                    "--output",
                    dir.resolve("j.png").toString());
            assertThat(r.status).as(json + ": " + r.err).isEqualTo(3);
            assertThat(r.err)
                    .as(json)
                    .contains(json.substring(json.lastIndexOf('/') + 1), "expected close marker for Object")
                    .containsPattern("start marker at line 1, column 1\\).* \\(line \\d+, column \\d+\\)")
                    .doesNotContain("REDACTED", "StreamReadFeature", "\tat ");
        }
    }

    /** The folders of {@code from} under {@code to}, with hard links to its files (cheaper than copies). */
    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    try {
                        Files.createLink(target, p); // a hard link: JUnit's clean-up deletes it quietly
                    } catch (UnsupportedOperationException | IOException e) {
                        Files.copy(p, target);
                    }
                }
            }
        }
    }

    @Test
    void repositoryIdsAndFilesComeFromTheHuggingFaceCacheOffline() throws IOException {
        // The demo model laid out as a cached repository: the same run by repository names makes the same image.
        DemoModel model = DemoModel.ensureIn(cache);
        Path hub = dir.resolve("hf-home/hub");
        String commit = "3333333333333333333333333333333333333333";
        Path repo = hub.resolve("models--flux4j-test--demo");
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        try (Stream<Path> s = Files.walk(model.baseModel())) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                Path to = snapshot.resolve(model.baseModel().relativize(p).toString());
                Files.createDirectories(to.getParent());
                Files.copy(p, to);
            }
        }
        Files.copy(model.transformer(), snapshot.resolve("demo-Q8_0.gguf"));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), commit);

        Path byPath = dir.resolve("path.png");
        Result local = flux(small(
                byPath,
                "--seed",
                "7",
                "--transformer",
                model.transformer().toString(),
                "--base-model",
                model.baseModel().toString(),
                "--no-progress"));
        assertThat(local.status).as(local.err).isZero();
        Path byRepo = dir.resolve("repo.png");
        Map<String, String> env = Map.of("HF_HUB_CACHE", hub.toString(), "HF_HUB_OFFLINE", "1");
        Result cached = flux(
                env,
                small(
                        byRepo,
                        "--seed",
                        "7",
                        "--transformer",
                        "flux4j-test/demo/demo-Q8_0.gguf",
                        "--base-model",
                        "flux4j-test/demo@main",
                        "--no-progress"));
        assertThat(cached.status).as(cached.err).isZero();
        assertThat(byRepo).hasSameBinaryContentAs(byPath);

        // Offline (the variable or --offline), what is not cached is named, and nothing is downloaded.
        Result absent = flux(
                env,
                small(
                        dir.resolve("x.png"),
                        "--transformer",
                        "flux4j-test/demo/demo-Q8_0.gguf",
                        "--base-model",
                        "flux4j-test/absent"));
        assertThat(absent.status).isEqualTo(3);
        assertThat(absent.err)
                .contains(
                        "--base-model flux4j-test/absent",
                        "flux4j-test/absent@main is not in the" + " Hugging Face cache",
                        "HF_HUB_OFFLINE")
                .doesNotContain("\tat ");
        Result file = flux(
                Map.of("HF_HUB_CACHE", hub.toString()),
                small(
                        dir.resolve("y.png"),
                        "--offline",
                        "--transformer",
                        "flux4j-test/demo/demo-Q4_0.gguf",
                        "--base-model",
                        "flux4j-test/demo"));
        assertThat(file.status).isEqualTo(3);
        assertThat(file.err)
                .contains(
                        "--transformer flux4j-test/demo/demo-Q4_0.gguf",
                        "demo-Q4_0.gguf of flux4j-test/demo@main is not in the Hugging Face cache");
        assertThat(dir.resolve("x.png")).doesNotExist();
        assertThat(dir.resolve("y.png")).doesNotExist();
    }

    @Test
    void mainRunsTheCommands() throws IOException {
        Result none = main();
        assertThat(none.status).isEqualTo(2);
        assertThat(none.err).contains("missing command", "generate", "gguf-info", "synthetic-gguf");
        Result unknown = main("paint");
        assertThat(unknown.status).isEqualTo(2);
        assertThat(unknown.err).contains("paint");

        Path out = dir.resolve("m.png");
        List<String> args = new ArrayList<>(List.of("generate"));
        args.addAll(List.of(small(out, "--seed", "3", "--no-progress")));
        Result gen = main(args.toArray(String[]::new));
        assertThat(gen.status).as(gen.err).isZero();
        assertThat(out).exists();
        Result bad = main("generate", "x", "--width", "1");
        assertThat(bad.status).isEqualTo(2);
        assertThat(bad.err).contains("flux4j generate: --width");

        Result info = main(
                "gguf-info",
                "--no-tensors",
                cache.resolve("demo-v" + DemoModel.VERSION)
                        .resolve(DemoModel.TRANSFORMER)
                        .toString());
        assertThat(info.status).as(info.err).isZero();
        assertThat(info.out).contains("general.architecture = 'flux'");

        Path synthetic = dir.resolve("synthetic.gguf");
        Result syn =
                main("synthetic-gguf", "--config", "tiny", "--type", "Q4_0", "--threads", "1", synthetic.toString());
        assertThat(syn.status).as(syn.err).isZero();
        Result synInfo = main("gguf-info", synthetic.toString());
        assertThat(synInfo.status).as(synInfo.err).isZero();
        assertThat(synInfo.out).contains("double_blocks.0.img_attn.qkv.weight", "Q4_0");
    }

    private static int distinctColours(BufferedImage img) {
        java.util.Set<Integer> colours = new java.util.HashSet<>();
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                colours.add(img.getRGB(x, y));
            }
        }
        return colours.size();
    }
}
