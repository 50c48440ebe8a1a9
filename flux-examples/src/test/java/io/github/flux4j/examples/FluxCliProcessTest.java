package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flux4j generate} as separate processes (what a user runs), for what an in-process test
 * cannot see: LibTorch's native messages on the process's standard error, several processes
 * sharing one cache, and signals.
 */
class FluxCliProcessTest {
    @TempDir
    Path dir;

    /**
     * A JVM running {@link Main} on the class path (as {@code java -cp} users run it) made of this
     * test's class path and module path, standard output and error to files.
     */
    private Process start(Path out, Path err, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m",
                "-cp",
                classPath(),
                Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("OPENBLAS_NUM_THREADS", "1");
        return pb.start();
    }

    /** The tests run on the module path (surefire), the child on the class path: both, joined. */
    private static String classPath() {
        List<String> parts = new ArrayList<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            String value = System.getProperty(property);
            if (value != null && !value.isEmpty()) {
                parts.add(value);
            }
        }
        return String.join(File.pathSeparator, parts);
    }

    private static String read(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    /**
     * Two first runs at once with one empty cache folder: both succeed (before the cache lock,
     * two of three such runs failed with "text_encoder_2: no such file" and the like; DemoModelTest
     * races four threads), and neither prints
     * LibTorch's "Could not initialize NNPACK!" lines (12-34 per CPU run before NNPACK was
     * switched off; they come from native code, so only the process's standard error shows them).
     */
    @Test
    void concurrentFirstRunsShareOneCacheAndPrintNoNnpackLines() throws Exception {
        Path cache = dir.resolve("cache");
        int n = 2; // each is a JVM loading LibTorch: two show the cross-process lock at half the cost of three
        List<Process> runs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            runs.add(start(
                    dir.resolve("out" + i),
                    dir.resolve("err" + i),
                    "generate",
                    "a lighthouse",
                    "--width",
                    "32",
                    "--height",
                    "32",
                    "--steps",
                    "1",
                    "--seed",
                    "7",
                    "--cache-dir",
                    cache.toString(),
                    "--output",
                    dir.resolve("image" + i + ".png").toString()));
        }
        for (int i = 0; i < n; i++) {
            Process p = runs.get(i);
            assertThat(p.waitFor(180, TimeUnit.SECONDS))
                    .as("run " + i + " ended")
                    .isTrue();
            String err = read(dir.resolve("err" + i));
            assertThat(p.exitValue()).as("run %d: %s", i, err).isZero();
            assertThat(err).doesNotContain("NNPACK", "Unsupported hardware");
            assertThat(read(dir.resolve("out" + i))).contains("Wrote " + dir.resolve("image" + i + ".png"));
        }
        assertThat(Files.readAllBytes(dir.resolve("image1.png")))
                .isEqualTo(Files.readAllBytes(dir.resolve("image0.png")));
        assertNoTemporaries(cache);
    }

    /**
     * SIGTERM (what Ctrl-C's SIGINT also does) during a long generation: the process stops within
     * seconds, saying so, and leaves no temporary file and no image.
     */
    @Test
    void aSignalStopsTheGenerationCleanly() throws Exception {
        Path cache = dir.resolve("cache");
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        Path image = dir.resolve("long.png");
        Process p = start(
                out,
                err,
                "generate",
                "a lighthouse",
                "--width",
                "256",
                "--height",
                "256",
                "--steps",
                "1000",
                "--seed",
                "7",
                "--cache-dir",
                cache.toString(),
                "--output",
                image.toString());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!read(out).contains("Generated the demo model") && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(read(out)).as(read(err)).contains("Generated the demo model");
        Thread.sleep(3000); // loading, then denoising (1000 steps: minutes)
        assertThat(p.isAlive()).as(read(err)).isTrue();
        long t0 = System.nanoTime();
        p.destroy(); // SIGTERM: the JVM runs its shutdown hooks
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("ended after the signal").isTrue();
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertThat(seconds).as("stopped promptly").isLessThan(20);
        assertThat(read(err)).contains("interrupted");
        assertThat(image).doesNotExist();
        assertNoTemporaries(cache);
        assertNoTemporaries(dir);
    }

    private static void assertNoTemporaries(Path folder) throws IOException {
        try (Stream<Path> s = Files.walk(folder)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")))
                    .isEmpty();
        }
    }
}
