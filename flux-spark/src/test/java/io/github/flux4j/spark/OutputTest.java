package io.github.flux4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.spark.output.AtomicFiles;
import io.github.flux4j.spark.output.CompletionMarker;
import io.github.flux4j.spark.output.OutputLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Output names, atomic writes and completion markers, without Spark. */
class OutputTest {
    @TempDir
    java.nio.file.Path dir;

    @Test
    void plainIdsNameFilesAsIs() {
        OutputLayout l = new OutputLayout("file:/out/");
        assertThat(l.image("cat-01.v2", 42, 0, "png").toString()).isEqualTo("file:/out/images/cat-01.v2_s42_0.png");
        assertThat(l.image("x", -7, 3, "jpg").toString()).isEqualTo("file:/out/images/x_s-7_3.jpg");
        assertThat(l.marker("x", 5).toString()).isEqualTo("file:/out/_complete/x_s5.properties");
        assertThat(l.resultsDir().toString()).isEqualTo("file:/out/results");
    }

    @Test
    void unsafeIdsGetTheirHash() {
        // the safe characters, then 16 hex digits of the id's SHA-256 (printf 'a/b' | sha256sum)
        assertThat(OutputLayout.fileId("a/b")).isEqualTo("a_b~c14cddc033f64b9d");
        assertThat(OutputLayout.fileId("a_b")).isEqualTo("a_b");
        assertThat(OutputLayout.fileId("a/b")).isNotEqualTo(OutputLayout.fileId("a:b"));
        assertThat(OutputLayout.fileId(".hidden")).startsWith("hidden~");
        assertThat(OutputLayout.fileId("_x")).startsWith("x~");
        assertThat(OutputLayout.fileId("日本")).isEqualTo("id~cf2abf0c5be326cb");
        assertThat(OutputLayout.fileId("a".repeat(101))).hasSize(48 + 17);
        assertThat(OutputLayout.fileId("a".repeat(100))).isEqualTo("a".repeat(100));
    }

    @Test
    void writesAtomicallyWithoutCrcOrTemporaryFiles() throws Exception {
        FileSystem fs = AtomicFiles.fileSystem(new Path(dir.toUri()), new Configuration());
        Path target = new Path(new Path(dir.toUri()), "sub/a.png");
        AtomicFiles.write(fs, target, "one".getBytes(StandardCharsets.UTF_8), "t1");
        AtomicFiles.write(fs, target, "second".getBytes(StandardCharsets.UTF_8), "t2");
        assertThat(Files.readString(dir.resolve("sub/a.png"))).isEqualTo("second");
        try (var files = Files.list(dir.resolve("sub"))) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("a.png");
        }
        Files.writeString(dir.resolve("sub/.a.png.t3" + AtomicFiles.TEMP_SUFFIX), "partial");
        assertThat(AtomicFiles.deleteTemporaries(fs, target.getParent())).isEqualTo(1);
        assertThat(AtomicFiles.deleteTemporaries(fs, new Path(new Path(dir.toUri()), "none")))
                .isZero();
    }

    @Test
    void markerRoundTripsAndRejectsOtherFiles() throws Exception {
        CompletionMarker m = new CompletionMarker(
                "f00d",
                "id=1 ü",
                -3,
                64,
                48,
                2,
                Double.NaN,
                List.of(
                        new CompletionMarker.Image("file:/o/images/x_s-3_0.png", "ab"),
                        new CompletionMarker.Image("file:/o/images/x_s-3_1.png", "cd")),
                "cuda:1",
                "3@host",
                new CompletionMarker.StageMillis(1.5, 20, 3, 0.25, 30),
                List.of("line one\nline two", "#not a comment"));
        assertThat(CompletionMarker.parse(m.toText())).isEqualTo(m);
        assertThat(m.toText()).isEqualTo(CompletionMarker.parse(m.toText()).toText());

        FileSystem fs = AtomicFiles.fileSystem(new Path(dir.toUri()), new Configuration());
        Path file = new Path(new Path(dir.toUri()), "m.properties");
        assertThat(CompletionMarker.read(fs, file)).isEmpty();
        m.write(fs, file, "t");
        assertThat(CompletionMarker.read(fs, file)).contains(m);
        Files.writeString(dir.resolve("m.properties"), "format=flux4j-spark-complete-1\nimages=1\n");
        assertThat(CompletionMarker.read(fs, file)).isEmpty(); // truncated: generated again
        assertThatThrownBy(() -> CompletionMarker.parse("format=other")).hasMessageContaining("format is 'other'");
    }
}
