package io.github.flux4j.examples.tools;

import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufValue;
import io.github.flux4j.gguf.GgufWriter;
import io.github.flux4j.gguf.quant.Float16;
import io.github.flux4j.gguf.quant.Quantizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Writes a FLUX transformer GGUF with <b>random</b> weights but the exact tensor names, shapes and
 * precision policy of city96's FLUX.1 conversions, for benchmarks and load tests without the real
 * (gated, 12 GB) weights.
 *
 * <ul>
 *   <li>Names: BFL's ({@code double_blocks.N.img_attn.qkv.weight}, ...), no prefix; FLUX.1-dev has
 *       780 tensors: 19 double and 38 single blocks, hidden 3072, 24 heads, MLP 12288, image
 *       in-channels 64, context 4096, pooled vector 768, {@code guidance_in} present.</li>
 *   <li>Types: the 2-D block matrices (5 per double-block side, 3 per single block: 304 in
 *       FLUX.1-dev) in the chosen block type; the embedders and the final layer (2-D) in F16 (or
 *       BF16 / F32, and always the block type when that is F32 or BF16); every 1-D tensor (biases,
 *       qk-norm scales) in F32.</li>
 *   <li>Values: quantized types are written as raw random blocks with fixed, sane float16 scales
 *       chosen so that the weights have a standard deviation of about 0.02 and mean about 0 (quants
 *       uniform over their range; K-quant sub-block scales uniform in a small range, minimums
 *       matching so that each group is centred); dense matrices and biases are approximately
 *       normal (sum of four uniforms) with standard deviation 0.02; the qk-norm scales are 1.
 *       Types without a raw generator (Q3_K, ...) are made by {@link Quantizer} from such floats.</li>
 *   <li>Deterministic: every tensor is cut into chunks of about 4 MiB, each filled by its own
 *       splitmix64 stream seeded from (seed, tensor name, chunk index), so the file depends only on
 *       the options, not on the number of threads. Chunks are generated in parallel and streamed to
 *       {@link GgufWriter} through a lazy tensor source: memory use stays at a few chunks per
 *       thread whatever the model size.</li>
 * </ul>
 *
 * <pre>{@code
 * SyntheticFluxGguf.write(Path.of("/tmp/flux-dev-Q8_0.gguf"), FluxConfig.dev(),
 *         SyntheticFluxGguf.Options.of(GgmlType.Q8_0));
 * }</pre>
 *
 * <p>CLI: {@code synthetic-flux-gguf [--config dev|schnell|tiny] [--type Q8_0] [--depth D --single S] OUT.gguf}.
 */
@Command(
        name = "synthetic-flux-gguf",
        mixinStandardHelpOptions = true,
        versionProvider = io.github.flux4j.examples.FluxVersion.class,
        description = "Writes a FLUX transformer GGUF with random weights and FLUX.1's tensor names, shapes and types.")
public final class SyntheticFluxGguf implements Callable<Integer> {

    /** What a tensor is, which decides its GGML type. */
    public enum Kind {
        /** A 2-D matrix inside a double or single block: the block type. */
        BLOCK_MATRIX,
        /** A 2-D matrix of an embedder or the final layer: F16 (city96), BF16 or F32. */
        EMBEDDER,
        /** A bias or norm scale: F32. */
        VECTOR
    }

    /** One tensor of the file: BFL name, shape (PyTorch order, outermost first), kind. */
    public record Spec(String name, long[] shape, Kind kind) {
        public Spec {
            Objects.requireNonNull(name, "name");
            shape = shape.clone();
            Objects.requireNonNull(kind, "kind");
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Number of elements. */
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    /**
     * How to write the file.
     *
     * @param blockType    type of the block matrices (any type with a raw generator or that
     *                     {@link Quantizer} produces)
     * @param embedderType type of the embedder / final-layer matrices: F16, BF16 or F32 (replaced
     *                     by the block type when that is F32 or BF16)
     * @param seed         the random seed
     * @param threads      generator threads (the output does not depend on it)
     * @param prefix       whether names carry the {@code model.diffusion_model.} prefix of
     *                     all-in-one checkpoints
     */
    public record Options(GgmlType blockType, GgmlType embedderType, long seed, int threads, boolean prefix) {
        public Options {
            Objects.requireNonNull(blockType, "blockType");
            Objects.requireNonNull(embedderType, "embedderType");
            if (!canGenerate(blockType)) {
                throw new IllegalArgumentException("cannot generate block type " + blockType);
            }
            if (embedderType != GgmlType.F16 && embedderType != GgmlType.BF16 && embedderType != GgmlType.F32) {
                throw new IllegalArgumentException("embedder type must be F16, BF16 or F32, got " + embedderType);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1, got " + threads);
            }
        }

        /** Block type {@code blockType}, F16 embedders, seed 0, all processors, no prefix. */
        public static Options of(GgmlType blockType) {
            return new Options(blockType, GgmlType.F16, 0, Runtime.getRuntime().availableProcessors(), false);
        }

        /** These options with another seed. */
        public Options withSeed(long seed) {
            return new Options(blockType, embedderType, seed, threads, prefix);
        }

        /** The type a tensor of this kind is written in. */
        public GgmlType typeOf(Kind kind) {
            return switch (kind) {
                case BLOCK_MATRIX -> blockType;
                case EMBEDDER -> blockType == GgmlType.F32 || blockType == GgmlType.BF16 ? blockType : embedderType;
                case VECTOR -> GgmlType.F32;
            };
        }
    }

    /** What {@link #write} wrote. */
    public record Summary(
            Path path,
            int tensors,
            long parameters,
            long fileBytes,
            Map<GgmlType, Integer> tensorsByType,
            double seconds) {
        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "%s: %d tensors, %,d parameters, %,d bytes %s, %.1f s",
                    path,
                    tensors,
                    parameters,
                    fileBytes,
                    tensorsByType,
                    seconds);
        }
    }

    /** Bytes of one generated chunk (rounded down to whole blocks). */
    static final int CHUNK_BYTES = 4 << 20;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final float STD = 0.02f;
    private static final String PREFIX = "model.diffusion_model.";

    // ---------------------------------------------------------------------------- CLI

    @Parameters(index = "0", paramLabel = "OUT", description = "The GGUF file to write (replaced if it exists).")
    private Path out = Path.of("");

    @Option(
            names = "--config",
            description = "dev (default), schnell, or tiny (the test model: hidden 256, 2 heads, "
                    + "2+2 blocks, context 128, vector 96).",
            defaultValue = "dev")
    private String configName = "dev";

    @Option(names = "--depth", description = "Override the number of double blocks.")
    private @Nullable Integer depth;

    @Option(names = "--single", description = "Override the number of single blocks.")
    private @Nullable Integer single;

    @Option(names = "--type", description = "Type of the block matrices (default Q8_0).", defaultValue = "Q8_0")
    private GgmlType type = GgmlType.Q8_0;

    @Option(names = "--embedder-type", description = "F16 (default, as city96), BF16 or F32.", defaultValue = "F16")
    private GgmlType embedderType = GgmlType.F16;

    @Option(names = "--seed", description = "Random seed (default 0).", defaultValue = "0")
    private long seed;

    @Option(names = "--threads", description = "Generator threads (default: all processors).")
    private @Nullable Integer threads;

    @Option(names = "--prefix", description = "Prefix names with model.diffusion_model. (all-in-one checkpoints).")
    private boolean prefix;

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new SyntheticFluxGguf()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        FluxConfig config = config(configName);
        if (depth != null || single != null) {
            config = config.withDepths(
                    depth != null ? depth : config.depth(), single != null ? single : config.depthSingleBlocks());
        }
        Options options = new Options(
                type,
                embedderType,
                seed,
                threads != null ? threads : Runtime.getRuntime().availableProcessors(),
                prefix);
        PrintWriter pw = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        pw.println(write(out, config, options));
        return 0;
    }

    // ---------------------------------------------------------------------------- configs and tensors

    /** {@code dev}, {@code schnell} or {@code tiny}. */
    public static FluxConfig config(String name) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "dev" -> FluxConfig.dev();
            case "schnell" -> FluxConfig.schnell();
            case "tiny" -> tiny();
            default -> throw new IllegalArgumentException("unknown config '" + name + "' (dev, schnell, tiny)");
        };
    }

    /**
     * The tiny FLUX of the project's tests ({@code tools/reference/TINY_FLUX.md}): hidden 256, 2
     * heads of 128 (RoPE axes 16/56/56), MLP 1024, 2 double and 2 single blocks, image
     * in-channels 64, context 128, pooled vector 96, with guidance.
     */
    public static FluxConfig tiny() {
        return new FluxConfig(64, 96, 128, 256, 4.0, 2, 2, 2, FluxConfig.DEFAULT_AXES, 10_000, true, true);
    }

    /** The tensors of a BFL-format FLUX transformer of this configuration, in city96's order. */
    public static List<Spec> tensors(FluxConfig c) {
        List<Spec> s = new ArrayList<>();
        c.bflTensorShapes().forEach((name, shape) -> s.add(new Spec(name, shape, kindOf(name, shape))));
        return List.copyOf(s);
    }

    /** city96's precision classes: 1-D tensors, embedder and final-layer matrices, block matrices. */
    private static Kind kindOf(String name, long[] shape) {
        if (shape.length == 1) {
            return Kind.VECTOR;
        }
        return name.startsWith("double_blocks.") || name.startsWith("single_blocks.")
                ? Kind.BLOCK_MATRIX
                : Kind.EMBEDDER;
    }

    // ---------------------------------------------------------------------------- writing

    /** Whether {@code type} can be generated for block matrices. */
    public static boolean canGenerate(GgmlType type) {
        return RawBlocks.supports(type) || Quantizer.isSupported(type);
    }

    /**
     * Writes the file (atomically, see {@link GgufWriter#write}) and returns what was written.
     *
     * @throws IllegalArgumentException if a matrix's row length is not a multiple of its type's
     *                                  block size
     */
    public static Summary write(Path target, FluxConfig config, Options options) throws IOException {
        long t0 = System.nanoTime();
        List<Spec> specs = tensors(config);
        GgufWriter w = GgufWriter.create();
        w.put("general.architecture", GgufValue.of("flux"));
        w.put("general.name", GgufValue.of("flux4j synthetic FLUX (random weights)"));
        w.put("general.quantization_version", GgufValue.uint32(2));
        w.put("flux4j.synthetic.seed", GgufValue.of(options.seed()));
        w.put("flux4j.synthetic.block_type", GgufValue.of(options.blockType().name()));
        Map<GgmlType, Integer> byType = new EnumMap<>(GgmlType.class);
        long params = 0;
        ExecutorService pool = Executors.newFixedThreadPool(options.threads(), r -> {
            Thread t = new Thread(r, "synthetic-gguf");
            t.setDaemon(true);
            return t;
        });
        try {
            for (Spec spec : specs) {
                GgmlType type = options.typeOf(spec.kind());
                String name = (options.prefix() ? PREFIX : "") + spec.name();
                long seed = tensorSeed(options.seed(), spec.name());
                w.addTensor(name, type, spec.shape(), out -> generate(spec, type, seed, pool, options.threads(), out));
                byType.merge(type, 1, Integer::sum);
                params += spec.elements();
            }
            w.write(target);
        } finally {
            pool.shutdownNow();
        }
        return new Summary(target, specs.size(), params, Files.size(target), byType, (System.nanoTime() - t0) / 1e9);
    }

    static long tensorSeed(long seed, String name) {
        long h = mix(seed ^ 0x5EED_F1A5L);
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = mix(h ^ (b & 0xFF));
        }
        return h;
    }

    /** splitmix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Generates one tensor chunk by chunk, {@code threads} chunks at a time in parallel, in order. */
    private static void generate(
            Spec spec, GgmlType type, long seed, ExecutorService pool, int threads, WritableByteChannel out)
            throws IOException {
        long elements = spec.elements();
        int block = type.blockSize();
        long blocks = elements / block;
        int blocksPerChunk = Math.max(1, CHUNK_BYTES / type.typeSize());
        long chunks = (blocks + blocksPerChunk - 1) / blocksPerChunk;
        boolean isScale = spec.name().endsWith("_norm.scale");
        int batch = Math.max(1, threads * 2);
        for (long first = 0; first < chunks; first += batch) {
            List<Future<ByteBuffer>> futures = new ArrayList<>();
            for (long c = first; c < Math.min(chunks, first + batch); c++) {
                long chunk = c;
                long from = chunk * blocksPerChunk;
                int n = (int) Math.min(blocksPerChunk, blocks - from);
                futures.add(pool.submit(() -> chunk(type, n, new Rng(mix(seed + chunk * GOLDEN)), isScale)));
            }
            for (Future<ByteBuffer> f : futures) {
                ByteBuffer buf;
                try {
                    buf = f.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while generating " + spec.name(), e);
                } catch (ExecutionException e) {
                    throw new IOException("generating " + spec.name() + " failed", e.getCause());
                }
                while (buf.hasRemaining()) {
                    out.write(buf);
                }
            }
        }
    }

    /** {@code nBlocks} blocks of {@code type}, ready to write (position 0, limit = size). */
    static ByteBuffer chunk(GgmlType type, int nBlocks, Rng r, boolean ones) {
        int bytes = nBlocks * type.typeSize();
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int n = nBlocks * type.blockSize();
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    b.putFloat(ones ? 1f : r.normal() * STD);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    b.putShort(Float16.fromFloat(ones ? 1f : r.normal() * STD));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    b.putShort(Float16.floatToBf16(ones ? 1f : r.normal() * STD));
                }
            }
            default -> {
                if (RawBlocks.supports(type)) {
                    RawBlocks.fill(type, b, nBlocks, r);
                } else {
                    float[] x = new float[n];
                    for (int i = 0; i < n; i++) {
                        x[i] = r.normal() * STD;
                    }
                    Quantizer.quantize(type, x, 0, n, b, 0);
                }
            }
        }
        b.position(0).limit(bytes);
        return b;
    }

    /** splitmix64: small, fast, and the same numbers on every JVM. */
    static final class Rng {
        private long state;

        Rng(long seed) {
            this.state = seed;
        }

        long next() {
            state += GOLDEN;
            return mix(state);
        }

        /** Integer uniform in [lo, hi). */
        int range(int lo, int hi) {
            return lo + (int) (((next() >>> 32) * (hi - lo)) >>> 32);
        }

        /** About N(0, 1): the sum of four 16-bit uniforms, centred and scaled (|x| <= 3.46). */
        float normal() {
            long v = next();
            int s = (int) (v & 0xFFFF) + (int) ((v >>> 16) & 0xFFFF) + (int) ((v >>> 32) & 0xFFFF) + (int) (v >>> 48);
            // each uniform has mean 32767.5 and variance 65536^2/12; the sum's std is 65536/sqrt(3)
            return (s - 131070f) * (float) (Math.sqrt(3) / 65536.0);
        }
    }

    /**
     * Raw random blocks with fixed, sane float16 scales: weights of mean about 0 and standard
     * deviation about 0.02 (uniform quants; for a uniform q in [0, 2^b) the std is
     * sqrt((4^b - 1) / 12): 4.61 for 4 bits, 9.23 for 5, 18.5 for 6, 73.6 for int8 in [-127, 127]).
     */
    static final class RawBlocks {
        private RawBlocks() {}

        static boolean supports(GgmlType type) {
            return switch (type) {
                case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q4_K, Q5_K, Q6_K -> true;
                default -> false;
            };
        }

        private static short h(double v) {
            return Float16.fromFloat((float) v);
        }

        /** {@code d} or {@code -d} (float16 bits), at random. */
        private static short signed(short d, Rng r) {
            return (short) ((r.next() & 1) == 0 ? d : d ^ 0x8000);
        }

        private static void randomBytes(ByteBuffer b, int count, Rng r) {
            int i = 0;
            for (; i + 8 <= count; i += 8) {
                b.putLong(r.next());
            }
            if (i < count) {
                long v = r.next();
                for (; i < count; i++, v >>>= 8) {
                    b.put((byte) v);
                }
            }
        }

        static void fill(GgmlType type, ByteBuffer b, int nBlocks, Rng r) {
            switch (type) {
                case Q8_0 -> {
                    short d = h(STD / 73.6);
                    for (int k = 0; k < nBlocks; k++) {
                        b.putShort(d);
                        for (int j = 0; j < 4; j++) {
                            long v = r.next();
                            // int8 in [-127, 127] as ggml's quantizer makes them: -128 becomes -127
                            for (int t = 0; t < 8; t++, v >>>= 8) {
                                byte q = (byte) v;
                                b.put(q == Byte.MIN_VALUE ? (byte) -127 : q);
                            }
                        }
                    }
                }
                case Q4_0 -> { // d, qs[16]; w = d*(q-8); q-8 has mean -1/2, so d takes a random sign
                    short d = h(STD / 4.61);
                    for (int k = 0; k < nBlocks; k++) {
                        b.putShort(signed(d, r));
                        randomBytes(b, 16, r);
                    }
                }
                case Q4_1 -> { // d, m, qs[16]; w = d*q + m
                    double d = STD / 4.61;
                    short dh = h(d);
                    short mh = h(-7.5 * d);
                    for (int k = 0; k < nBlocks; k++) {
                        b.putShort(dh).putShort(mh);
                        randomBytes(b, 16, r);
                    }
                }
                case Q5_0 -> { // d, qh[4], qs[16]; w = d*(q-16); random sign of d as for Q4_0
                    short d = h(STD / 9.23);
                    for (int k = 0; k < nBlocks; k++) {
                        b.putShort(signed(d, r));
                        randomBytes(b, 20, r);
                    }
                }
                case Q5_1 -> { // d, m, qh[4], qs[16]; w = d*q + m
                    double d = STD / 9.23;
                    short dh = h(d);
                    short mh = h(-15.5 * d);
                    for (int k = 0; k < nBlocks; k++) {
                        b.putShort(dh).putShort(mh);
                        randomBytes(b, 20, r);
                    }
                }
                case Q2_K -> { // scales[16] (lo: scale, hi: min), qs[64], d, dmin; w = d*sc*q - dmin*m
                    double d = STD / (11.5 * 1.118);
                    short dh = h(d);
                    short dminh = h(1.5 * d);
                    for (int k = 0; k < nBlocks; k++) {
                        for (int j = 0; j < 16; j++) {
                            int sc = r.range(8, 16);
                            b.put((byte) (sc | sc << 4));
                        }
                        randomBytes(b, 64, r);
                        b.putShort(dh).putShort(dminh);
                    }
                }
                case Q4_K, Q5_K -> { // d, dmin, scales[12], (Q5_K: qh[32]), qs[128]; w = d*sc*q - dmin*m
                    boolean five = type == GgmlType.Q5_K;
                    double d = five ? STD / (31.5 * 9.23) : STD / (31.5 * 4.61);
                    short dh = h(d);
                    short dminh = h((five ? 15.5 : 7.5) * d);
                    int[] s = new int[8];
                    for (int k = 0; k < nBlocks; k++) {
                        b.putShort(dh).putShort(dminh);
                        for (int j = 0; j < 8; j++) {
                            s[j] = r.range(16, 48);
                        }
                        // ggml's get_scale_min_k4 layout with min m = scale s
                        for (int j = 0; j < 4; j++) {
                            b.put((byte) ((s[j] & 63) | ((s[j + 4] >> 4) << 6)));
                        }
                        for (int j = 0; j < 4; j++) {
                            b.put((byte) ((s[j] & 63) | ((s[j + 4] >> 4) << 6)));
                        }
                        for (int j = 0; j < 4; j++) {
                            b.put((byte) ((s[j + 4] & 15) | ((s[j + 4] & 15) << 4)));
                        }
                        randomBytes(b, five ? 160 : 128, r);
                    }
                }
                case Q6_K -> { // ql[128], qh[64], scales[16] int8, d; w = d*sc*(q-32); sc of random sign (q-32 has mean
                    // -1/2)
                    short d = h(STD / (15.5 * 18.47));
                    for (int k = 0; k < nBlocks; k++) {
                        randomBytes(b, 192, r);
                        for (int j = 0; j < 16; j++) {
                            int sc = r.range(8, 24);
                            b.put((byte) ((r.next() & 1) == 0 ? sc : -sc));
                        }
                        b.putShort(d);
                    }
                }
                default -> throw new IllegalArgumentException("no raw generator for " + type);
            }
        }
    }

    /** For callers that cannot throw: {@link #write} with IOExceptions unchecked. */
    public static Summary writeUnchecked(Path target, FluxConfig config, Options options) {
        try {
            return write(target, config, options);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
