package io.github.flux4j.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.gguf.quant.Dequantizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates valid GGUF files thousands of times (random bytes, bit flips, truncations, spliced
 * counts and lengths) and checks that opening and reading them either works or fails with a
 * {@link GgufFormatException}: no OutOfMemoryError, no index exception, no hang (the timeout).
 */
class GgufFuzzTest {
    private static final long SEED = 0x6767_7566L;
    private static final int MUTANTS = 6000;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void mutatedFilesOnlyEverRaiseGgufFormatException() throws IOException {
        // prefixed.gguf is small; flux_conventions.gguf's header carries every metadata type
        String[] names = {"prefixed.gguf", "flux_conventions.gguf"};
        byte[][] seeds = new byte[names.length][];
        int[] headerSpans = new int[names.length];
        for (int s = 0; s < names.length; s++) {
            seeds[s] = Files.readAllBytes(GgufFileTest.resource(names[s]));
            try (GgufFile f = GgufFile.open(GgufFileTest.resource(names[s]))) {
                headerSpans[s] = (int) f.dataOffset();
            }
        }
        Random random = new Random(SEED);
        Map<Outcome, Integer> outcomes = new EnumMap<>(Outcome.class);
        Path p = dir.resolve("mutant.gguf");
        for (int i = 0; i < MUTANTS; i++) {
            int s = i % 4 == 3 ? 1 : 0;
            byte[] mutant = mutate(seeds[s], random, headerSpans[s]);
            Files.write(p, mutant);
            Outcome o;
            try {
                o = openAndReadEverything(p);
            } catch (GgufFormatException expected) {
                o = Outcome.REFUSED;
            } catch (Throwable unexpected) {
                throw new AssertionError("mutant " + i + " (seed " + SEED + ") escaped with " + unexpected, unexpected);
            }
            outcomes.merge(o, 1, Integer::sum);
        }
        // The mutations must exercise both paths, or the test proves little.
        assertThat(outcomes.getOrDefault(Outcome.REFUSED, 0)).isGreaterThan(MUTANTS / 4);
        assertThat(outcomes.getOrDefault(Outcome.READ, 0)).isGreaterThan(MUTANTS / 50);
    }

    private enum Outcome {
        READ,
        REFUSED
    }

    private static Outcome openAndReadEverything(Path p) throws IOException {
        try (GgufFile f = GgufFile.open(p)) {
            f.metadata().asMap().values().forEach(GgufValue::toJava);
            for (TensorInfo t : f.tensors()) {
                ByteBuffer data = f.tensorData(t);
                if (Dequantizer.isSupported(t.type()) && t.elementCount() <= 1 << 20) {
                    float[] values = Dequantizer.dequantize(t.type(), data, t.name(), t.elementCount());
                    assertThat(values).hasSize((int) t.elementCount());
                }
            }
        }
        return Outcome.READ;
    }

    /** Mutations concentrate on the header, where the parser's decisions are. */
    private static byte[] mutate(byte[] base, Random r, int headerSpan) {
        byte[] b = base.clone();
        int kind = r.nextInt(6);
        int n = 1 + r.nextInt(4);
        for (int k = 0; k < n; k++) {
            int at = r.nextInt(r.nextInt(8) == 0 ? b.length : headerSpan);
            switch (kind) {
                case 0 -> b[at] = (byte) r.nextInt(256);
                case 1 -> b[at] ^= (byte) (1 << r.nextInt(8));
                case 2 -> { // splice an extreme 64-bit value (count, length, dim or offset)
                    long[] extremes = {
                        0, 1, -1, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 32, 1L << 60, 0xFFFF_FFFFL, 31, 33
                    };
                    long v = extremes[r.nextInt(extremes.length)];
                    for (int j = 0; j < 8 && at + j < b.length; j++) {
                        b[at + j] = (byte) (v >>> (8 * j));
                    }
                }
                case 3 -> { // splice a 32-bit value (type id, n_dims, version)
                    int[] extremes = {0, 1, 2, 4, 5, 9, 13, 30, 31, 99, -1, 0x03000000};
                    int v = extremes[r.nextInt(extremes.length)];
                    for (int j = 0; j < 4 && at + j < b.length; j++) {
                        b[at + j] = (byte) (v >>> (8 * j));
                    }
                }
                default -> {}
            }
        }
        if (kind >= 4) {
            return Arrays.copyOf(b, r.nextInt(b.length + 1));
        }
        return b;
    }
}
