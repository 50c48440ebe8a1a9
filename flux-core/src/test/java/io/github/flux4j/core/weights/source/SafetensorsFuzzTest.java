package io.github.flux4j.core.weights.source;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.core.testing.FuzzRunner;
import io.github.flux4j.core.testing.Mutator;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Mutates real safetensors files (bytes of the header and the data, and the header's JSON) and
 * checks that {@link SafetensorsFile#open} and reading every tensor either work or fail with a
 * {@link SafetensorsFormatException} naming the file: no other exception, no error, no hang.
 */
class SafetensorsFuzzTest {
    private static final long SEED = 0x5afe_7e45L;
    private static final int MUTANTS = 3000;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(
            strings = {
                "/reference/flux/tiny-flux-dev-Q8_0-prefixed.safetensors",
                "/reference/text/t5/model-00003-of-00003.safetensors"
            })
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void mutatedFilesOnlyEverRaiseSafetensorsFormatException(String resource) throws IOException {
        byte[] seed;
        try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream(resource), resource)) {
            seed = in.readAllBytes();
        }
        int headerLen =
                (int) ByteBuffer.wrap(seed).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        byte[] header = Arrays.copyOfRange(seed, 8, 8 + headerLen);
        byte[] data = Arrays.copyOfRange(seed, 8 + headerLen, seed.length);
        JsonNode headerJson = Mutator.parse(header);
        Mutator mutator = new Mutator(SEED);
        Path p = dir.resolve("mutant.safetensors");
        FuzzRunner.Report report = FuzzRunner.run(
                resource,
                SEED,
                MUTANTS,
                Duration.ofSeconds(5),
                i -> {
                    if (i % 2 == 0) {
                        return mutator.bytes(seed, i, 8 + headerLen);
                    }
                    // The header's JSON mutated, re-framed with its new length (mostly) or the old one.
                    byte[] h = mutator.json(headerJson, header, i);
                    ByteBuffer b =
                            ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
                    b.putLong(i % 10 == 1 ? headerLen : h.length).put(h).put(data);
                    return b.array();
                },
                m -> {
                    Files.write(p, m);
                    readEverything(p);
                },
                e -> e instanceof SafetensorsFormatException && e.getMessage().startsWith(p.toString()));
        // Both paths must be exercised, or the test proves little.
        assertThat(report.refused()).as("%s", report).isGreaterThan(MUTANTS / 4);
        assertThat(report.accepted()).as("%s", report).isGreaterThan(MUTANTS / 50);
    }

    private static void readEverything(Path p) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            f.metadata().forEach((k, v) -> Objects.requireNonNull(v));
            for (WeightInfo e : f.tensors()) {
                ByteBuffer b = f.data(e);
                assertThat((long) b.remaining()).isEqualTo(e.byteSize());
                long sum = 0;
                while (b.hasRemaining()) {
                    sum += b.get();
                }
                assertThat(e.elementCount() * f.dtype(e).byteSize()).isEqualTo(e.byteSize());
                assertThat(f.find(e.name())).contains(e);
                if (sum == Long.MIN_VALUE) {
                    throw new AssertionError("unreachable");
                }
            }
        }
    }
}
