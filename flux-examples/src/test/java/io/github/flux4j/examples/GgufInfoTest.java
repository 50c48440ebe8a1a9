package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufValue;
import io.github.flux4j.gguf.GgufValueType;
import io.github.flux4j.gguf.GgufWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufInfoTest {
    @TempDir
    Path dir;

    private Path model;

    @BeforeEach
    void writeModel() throws IOException {
        model = dir.resolve("tiny.gguf");
        GgufWriter.create()
                .put("general.architecture", GgufValue.of("flux"))
                .put("general.alignment", GgufValue.uint32(64))
                .put(
                        "test.tokens",
                        GgufValue.strings(
                                IntStream.range(0, 100).mapToObj(i -> "t" + i).toList()))
                .put("test.long", GgufValue.of("x".repeat(100)))
                .put("test.quote", GgufValue.of("it's\n"))
                .put("test.u64", new GgufValue.UInt64(-1))
                .put("test.f32", GgufValue.of(0.1f))
                .put(
                        "test.nested",
                        new GgufValue.Array(GgufValueType.ARRAY, List.of(GgufValue.int32s(1, 2), GgufValue.int32s(3))))
                .addTensor("img_in.weight", GgmlType.Q8_0, new long[] {3, 64}, ByteBuffer.allocate(3 * 2 * 34))
                .addTensor("img_in.bias", GgmlType.F32, new long[] {3}, ByteBuffer.allocate(12))
                .addTensor("txt_in.weight", GgmlType.Q8_0, new long[] {1, 32}, ByteBuffer.allocate(34))
                .write(model);
    }

    @Test
    void printsHeaderMetadataTensorsAndTotals() {
        Result r = run(model.toString());
        assertThat(r.status).isZero();
        assertThat(r.err).isEmpty();
        assertThat(r.out)
                .contains(
                        "file:        " + model + " (" + size(model) + " bytes)",
                        "version:     3",
                        "alignment:   64",
                        "* 8 metadata keys",
                        "      1: STRING     |        1 | general.architecture = 'flux'",
                        "      2: UINT32     |        1 | general.alignment = 64",
                        "      3: [STRING]   |      100 | test.tokens = ['t0', 't1', 't2', 't3', 't4', 't5', ... (100 elements)]",
                        "      4: STRING     |        1 | test.long = '" + "x".repeat(57) + "...'",
                        "      5: STRING     |        1 | test.quote = 'it\\'s\\n'",
                        "      6: UINT64     |        1 | test.u64 = 18446744073709551615",
                        "      7: FLOAT32    |        1 | test.f32 = 0.1",
                        "      8: [[INT32]]  |        2 | test.nested = [[1, 2], [3]]",
                        "* 3 tensors (shape in row-major order, outermost first)",
                        "      1: Q8_0    | [3, 64] |          204 bytes | img_in.weight",
                        "      2: F32     | [3]     |           12 bytes | img_in.bias",
                        "      3: Q8_0    | [1, 32] |           34 bytes | txt_in.weight",
                        "* totals by type",
                        "  F32     |      1 tensors |              3 elements |             12 bytes (12 B)",
                        "  Q8_0    |      2 tensors |            224 elements |            238 bytes (238 B)",
                        "  all     |      3 tensors |            227 elements |            250 bytes (250 B)");
        assertThat(r.out).containsPattern("data offset: \\d+\n");
    }

    @Test
    void printsJson() {
        Result r = run("--json", model.toString());
        assertThat(r.status).isZero();
        assertThat(r.out)
                .startsWith("{\n")
                .endsWith("}\n")
                .contains(
                        "\"alignment\": 64,",
                        "\"test.tokens\": {\"type\": \"[STRING]\", \"value\": [\"t0\", \"t1\"",
                        "\"t99\"]}",
                        "\"test.quote\": {\"type\": \"STRING\", \"value\": \"it's\\n\"}",
                        "{\"name\": \"img_in.weight\", \"type\": \"Q8_0\", \"shape\": [3, 64], \"offset\": ");
    }

    @Test
    void aBadFileGivesOneLineNamingItAndStatusOne() throws IOException {
        Path bad = dir.resolve("bad.gguf");
        Files.write(bad, "GGUF but not really".getBytes());
        Path truncated = dir.resolve("truncated.gguf");
        byte[] good = Files.readAllBytes(model);
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length / 2));

        for (Path p : List.of(bad, truncated, dir.resolve("missing.gguf"), dir)) {
            Result r = run(p.toString());
            assertThat(r.status).as(p.toString()).isEqualTo(1);
            assertThat(r.out).isEmpty();
            assertThat(r.err).as(p.toString()).startsWith("gguf-info: " + p).endsWith("\n");
            assertThat(r.err.lines()).as(p.toString()).hasSize(1);
        }
        assertThat(run(bad.toString()).err).contains("invalid GGUF");
        assertThat(run(dir.resolve("missing.gguf").toString()).err).contains("no such file");
    }

    @Test
    void usageErrorsGiveStatusTwo() {
        assertThat(run().status).isEqualTo(2);
        assertThat(run("--bogus", model.toString()).status).isEqualTo(2);
        assertThat(run("--help").out).contains("Usage: gguf-info");
    }

    private record Result(int status, String out, String err) {}

    private static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = GgufInfo.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(status, out.toString(), err.toString());
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
