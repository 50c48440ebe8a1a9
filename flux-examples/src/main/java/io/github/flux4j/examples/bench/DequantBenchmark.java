package io.github.flux4j.examples.bench;

import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.quant.Dequantizer;
import io.github.flux4j.gguf.quant.Float16;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Single-thread throughput of {@link Dequantizer}: one operation dequantizes ~64 MiB of blocks
 * held in a read-only direct buffer (as a memory-mapped GGUF tensor is) into a float[] large
 * enough that the output streams to DRAM, as when a whole tensor is dequantized.
 *
 * <p>{@code writeBaseline} fills the same float[] with {@code Arrays.fill}-like stores: the
 * single-thread memory write speed that dequantization is compared against.
 *
 * <p>Run {@link #main} (short settings, prints GB/s of float32 output per type), or JMH itself
 * with the usual options for longer runs. Arguments to main: the types, comma-separated
 * (default {@code Q8_0,Q4_K,Q6_K}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DequantBenchmark {
    /** Source bytes per operation (rounded down to whole blocks). */
    static final int SOURCE_BYTES = 64 << 20;

    /** GGML type to dequantize. */
    @Param({"Q8_0", "Q4_K", "Q6_K"})
    public String type = "Q8_0";

    private GgmlType ggmlType = GgmlType.Q8_0;
    private ByteBuffer src = ByteBuffer.allocate(0);
    private float[] dst = new float[0];
    private int elements;

    /** Float32 output bytes of one operation for {@code type}. */
    static long outputBytes(GgmlType type) {
        return 4L * (SOURCE_BYTES / type.typeSize()) * type.blockSize();
    }

    /** Random blocks whose float16 fields are small finite numbers, in a read-only direct buffer. */
    @Setup(Level.Trial)
    public void setUp() {
        ggmlType = GgmlType.valueOf(type);
        int blocks = SOURCE_BYTES / ggmlType.typeSize();
        elements = blocks * ggmlType.blockSize();
        byte[] bytes = new byte[blocks * ggmlType.typeSize()];
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) random.nextInt(256);
        }
        // Random quants, but small finite block scales, as in real weights (no Inf/NaN paths).
        int[] f16Fields = f16Fields(ggmlType);
        for (int b = 0; b < blocks; b++) {
            for (int field : f16Fields) {
                short h = Float16.fromFloat((float) (random.nextDouble() - 0.5) * 0.02f);
                bytes[b * ggmlType.typeSize() + field] = (byte) h;
                bytes[b * ggmlType.typeSize() + field + 1] = (byte) (h >> 8);
            }
        }
        ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length);
        direct.put(bytes).flip();
        src = direct.asReadOnlyBuffer();
        dst = new float[elements];
    }

    /** Drops the ~0.3-0.8 GB of state before the next parameter's trial. */
    @TearDown(Level.Trial)
    public void tearDown() {
        src = ByteBuffer.allocate(0);
        dst = new float[0];
    }

    /** Dequantizes the whole source into {@code dst}. */
    @Benchmark
    public float[] dequantize() {
        Dequantizer.dequantize(ggmlType, src, 0, dst, 0, elements);
        return dst;
    }

    /** Writes the same amount of float32 output without computing anything. */
    @Benchmark
    public float[] writeBaseline() {
        float[] d = dst;
        for (int i = 0; i < d.length; i++) {
            d[i] = 1f;
        }
        return d;
    }

    private static int[] f16Fields(GgmlType type) {
        switch (type) {
            case Q4_0:
            case Q5_0:
            case Q8_0:
            case IQ4_NL:
            case IQ4_XS:
                return new int[] {0};
            case Q4_1:
            case Q5_1:
            case Q4_K:
            case Q5_K:
                return new int[] {0, 2};
            case Q2_K:
                return new int[] {80, 82};
            case Q3_K:
                return new int[] {108};
            case Q6_K:
                return new int[] {208};
            default: // plain F32/F16/BF16: random bit patterns cost the same to convert
                return new int[0];
        }
    }

    /**
     * Runs the benchmark with short settings (1 fork, 3 x 1 s warm-up, 5 x 1 s measurement) and
     * prints GB/s of float32 output for each type.
     *
     * @param args optional: comma-separated GGML types, default {@code Q8_0,Q4_K,Q6_K}
     */
    public static void main(String[] args) throws RunnerException {
        String types = args.length > 0 ? args[0] : "Q8_0,Q4_K,Q6_K";
        Options options = new OptionsBuilder()
                .include(DequantBenchmark.class.getName() + "\\.")
                .param("type", types.split(","))
                .forks(1)
                .warmupIterations(3)
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(5)
                .measurementTime(TimeValue.seconds(1))
                .build();
        Collection<RunResult> results = new Runner(options).run();
        List<String> lines = new ArrayList<>();
        for (RunResult run : results) {
            String bench = run.getParams().getBenchmark();
            String t = run.getParams().getParam("type");
            long bytes = outputBytes(GgmlType.valueOf(t));
            Result<?> r = run.getPrimaryResult();
            double gbs = r.getScore() * bytes / 1e9;
            double err = Double.isNaN(r.getScoreError()) ? 0 : r.getScoreError() * bytes / 1e9;
            lines.add(String.format(
                    "%-14s %-6s %7.2f GB/s +- %.2f  (%.0f MB float32 per op)",
                    bench.substring(bench.lastIndexOf('.') + 1), t, gbs, err, bytes / 1e6));
        }
        System.out.println();
        System.out.println("Single-thread dequantization, GB/s of float32 output:");
        lines.forEach(System.out::println);
    }
}
