package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.examples.demo.DemoModel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    record Result(int status, String out, String err) {
    }

    static Result flux(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = FluxCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
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
        List<String> a = new ArrayList<>(List.of("a lighthouse at dusk", "--width", "64", "--height", "64", "--steps", "2",
                "--threads", "1", "--cache-dir", cache.toString(), "--output", file.toString()));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void generatesAPngFromTheDemoModelAndTheSameBytesForTheSameSeed() throws IOException {
        Path a = dir.resolve("a.png");
        Result r = flux(small(a, "--seed", "42"));
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out).contains("Demo model", "random weights", "Wrote " + a + " (64x64)", "Seed 42, 2 steps, guidance 3.5, cpu f32",
                "Timings: load ", "text encoding ", "denoising ", "(2 x ", "decode ");
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

    @Test
    void missingFilesGiveStatus1NamingTheFile() {
        Path missing = dir.resolve("no-such-model.gguf");
        Result r = flux("a prompt", "--transformer", missing.toString(), "--output", dir.resolve("x.png").toString());
        assertThat(r.status).isEqualTo(1);
        assertThat(r.err).contains(missing.toString(), "no such file", "--transformer").doesNotContain("\tat ");
        assertThat(r.err.lines()).hasSize(1);

        Result t5 = flux("a prompt", "--transformer", cache.toString(), "--t5-gguf", missing.toString());
        assertThat(t5.status).isEqualTo(1);
        assertThat(t5.err).contains(missing.toString(), "--t5-gguf");

        // a base model that is not there: the folder is named
        Result base = flux("a prompt", "--transformer", dir.toString(), "--base-model", dir.resolve("nowhere").toString(),
                "--output", dir.resolve("y.png").toString());
        assertThat(base.status).as(base.err).isEqualTo(1);
        assertThat(base.err).contains(dir.resolve("nowhere").toString()).doesNotContain("\tat ");
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

        Result info = main("gguf-info", "--no-tensors", cache.resolve("demo-v" + DemoModel.VERSION).resolve(DemoModel.TRANSFORMER).toString());
        assertThat(info.status).as(info.err).isZero();
        assertThat(info.out).contains("general.architecture = 'flux'");

        Path synthetic = dir.resolve("synthetic.gguf");
        Result syn = main("synthetic-gguf", "--config", "tiny", "--type", "Q4_0", "--threads", "1", synthetic.toString());
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
