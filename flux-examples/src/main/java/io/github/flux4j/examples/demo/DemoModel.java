package io.github.flux4j.examples.demo;

import io.github.flux4j.core.weights.source.SafetensorsDtype;
import io.github.flux4j.core.weights.source.SafetensorsWriter;
import io.github.flux4j.examples.FileTrees;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufValue;
import io.github.flux4j.gguf.GgufWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/**
 * The demo model that ships with flux4j: a complete but <b>tiny</b> FLUX.1-dev-shaped pipeline
 * with <b>random weights</b>, so that the {@code flux} command has something to run on a fresh
 * clone, without downloading 30 GB of weights. It draws abstract patterns (smooth coloured blobs;
 * the prompt mostly changes the palette, the seed the layout), not pictures of the prompt. A
 * 256x256 image takes a second or two on two CPU cores.
 *
 * <pre>{@code
 * DemoModel demo = DemoModel.ensure();          // ~/.cache/flux4j/demo-v1, generated on first use
 * Path baseModel = demo.baseModel();            // a diffusers-layout FLUX folder
 * Path transformer = demo.transformer();        // the transformer as a Q8_0 GGUF
 * }</pre>
 *
 * <p>Nothing is downloaded and no weights are stored in the repository: every tensor is computed
 * from its name by a fixed rule ({@link DemoWeights}), so the files are identical byte for byte on
 * every machine ({@link #MANIFEST} lists their sha256). The configurations and the tiny CLIP and T5
 * tokenizers are resources of this module. Layout:
 *
 * <pre>
 * demo-v1/
 *   tiny-flux-demo/                 model_index.json, scheduler/, tokenizer/ (CLIP BPE, 1851 tokens),
 *                                   tokenizer_2/ (T5 Unigram, 1100 tokens), text_encoder/ (CLIPTextModel:
 *                                   hidden 96, 1 layer), text_encoder_2/ (T5 encoder: d_model 128, 2 layers),
 *                                   vae/ (AutoencoderKL decoder: 16 latent channels, widths 8/8/16/16),
 *                                   transformer/config.json (hidden 256 = 2 x 128, 2 double + 2 single blocks)
 *   tiny-flux-demo-Q8_0.gguf        the transformer: block matrices Q8_0, embedders F16, 1-D F32
 *   MANIFEST.sha256                 written last: the folder is complete when it is there
 * </pre>
 *
 * <p>The rules. Each tensor's values come from splitmix64 seeded with
 * {@code FNV-1a64(component + "/" + name) XOR "FLUXDEMO"}, uniform in [-1, 1), scaled per tensor:
 * transformer tensors as the tiny FLUX test model ({@code tools/reference/TINY_FLUX.md}), with the
 * final layer's rows tied per 2x2 latent patch; text-encoder weights with standard deviation
 * {@code 1/sqrt(fan_in)}, embeddings +-1, normalization weights 1 +- 0.25, biases +-0.05; VAE
 * 3x3 convolutions as a random channel mix of a binomial blur plus 10 % noise, which is what makes
 * the image smooth blobs rather than pixel noise. The generator never changes within a version: a
 * change gets a new {@link #VERSION} (and a new cache folder).
 */
public final class DemoModel {
    /** Generator version: part of the cache folder's name. */
    public static final int VERSION = 1;
    /** Name of the base-model folder. */
    public static final String BASE_MODEL = "tiny-flux-demo";
    /** Name of the transformer GGUF. */
    public static final String TRANSFORMER = "tiny-flux-demo-Q8_0.gguf";
    /** Name of the checksum list ({@code sha256sum} format), written last. */
    public static final String MANIFEST = "MANIFEST.sha256";
    /** Environment variable naming flux4j's cache folder (default {@code $XDG_CACHE_HOME/flux4j} or {@code ~/.cache/flux4j}). */
    public static final String CACHE_ENV = "FLUX4J_CACHE";

    /** Temporary folders: {@code .demo-v<VERSION>.<random>.tmp}. */
    private static final String TEMP_PREFIX = ".demo-v" + VERSION + ".";

    private static final String TEMP_SUFFIX = ".tmp";
    /** One lock per lock file in this JVM: {@link FileChannel#lock()} throws if the JVM already holds it. */
    private static final ConcurrentHashMap<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

    private static final String RESOURCES = "/io/github/flux4j/examples/demo/model/";
    /** The files copied from resources, relative to the base-model folder. */
    private static final List<String> RESOURCE_FILES = List.of(
            "model_index.json",
            "scheduler/scheduler_config.json",
            "text_encoder/config.json",
            "text_encoder_2/config.json",
            "vae/config.json",
            "transformer/config.json",
            "tokenizer/vocab.json",
            "tokenizer/merges.txt",
            "tokenizer/tokenizer_config.json",
            "tokenizer/special_tokens_map.json",
            "tokenizer_2/tokenizer.json",
            "tokenizer_2/tokenizer_config.json",
            "tokenizer_2/special_tokens_map.json");

    private final Path root;

    private DemoModel(Path root) {
        this.root = root;
    }

    /** The folder holding the model ({@code .../demo-v1}). */
    public Path root() {
        return root;
    }

    /** The base-model folder in diffusers' layout (everything but the transformer's weights). */
    public Path baseModel() {
        return root.resolve(BASE_MODEL);
    }

    /** The transformer GGUF (Q8_0). */
    public Path transformer() {
        return root.resolve(TRANSFORMER);
    }

    /**
     * The demo model in flux4j's cache folder ({@code $FLUX4J_CACHE}, else
     * {@code $XDG_CACHE_HOME/flux4j}, else {@code ~/.cache/flux4j}), generated there on first use.
     *
     * @throws IOException if the cache folder cannot be written
     */
    public static DemoModel ensure() throws IOException {
        return ensureIn(defaultCacheDir());
    }

    /** The demo model in {@code cacheDir/demo-v<VERSION>} if it is there and complete (its manifest matches its files). */
    public static Optional<DemoModel> find(Path cacheDir) {
        Path dir = cacheDir.toAbsolutePath().resolve("demo-v" + VERSION);
        return isComplete(dir) ? Optional.of(new DemoModel(dir)) : Optional.empty();
    }

    /**
     * The demo model in {@code cacheDir/demo-v<VERSION>}: used as is when its manifest matches
     * its files, otherwise (re)generated. Safe across threads and processes sharing the cache:
     * generation holds a lock ({@code .demo-v<VERSION>.lock}: an OS file lock, plus a JVM-wide one,
     * since a file lock does not exclude the threads of its own process), looks again once it has
     * the lock (another caller may have finished the model meanwhile: then that one is used, never
     * deleted), writes a hidden temporary folder next to it and renames it into place, so nobody
     * sees a half-written model. Temporary folders left by an interrupted or killed run
     * ({@code .demo-v<VERSION>.*.tmp}) are removed by the next generation: under the lock none is in use.
     *
     * @throws IOException if the folder cannot be written
     */
    @SuppressWarnings("try") // the file lock is held for its effect only
    public static DemoModel ensureIn(Path cacheDir) throws IOException {
        Path cache = cacheDir.toAbsolutePath();
        Path dir = cache.resolve("demo-v" + VERSION);
        Path lockFile = cache.resolve(".demo-v" + VERSION + ".lock");
        ReentrantLock inProcess = LOCKS.computeIfAbsent(lockFile.normalize(), k -> new ReentrantLock());
        if (isComplete(dir)) {
            sweepIfIdle(cache, lockFile, inProcess);
            return new DemoModel(dir);
        }
        Files.createDirectories(cache);
        try {
            inProcess.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while another thread generates the demo model in " + cache);
        }
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock = channel.lock()) {
            if (isComplete(dir)) {
                return new DemoModel(dir); // made by another thread or process while we waited
            }
            removeStaleTemporaries(cache);
            Path temp = cache.resolve(TEMP_PREFIX
                    + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36)
                    + TEMP_SUFFIX);
            try {
                write(temp);
                if (Files.exists(dir)) {
                    // Incomplete or damaged (isComplete said no, under the lock): replace it.
                    FileTrees.deleteTree(dir);
                }
                Files.move(temp, dir, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                FileTrees.deleteTree(temp);
            }
        } finally {
            inProcess.unlock();
        }
        return new DemoModel(dir);
    }

    /**
     * With a complete model: removes the temporary folders of killed runs if there are any and
     * nobody is generating (the locks are free); never waits.
     */
    private static void sweepIfIdle(Path cache, Path lockFile, ReentrantLock inProcess) {
        try (Stream<Path> s = Files.list(cache)) {
            if (s.noneMatch(p -> p.getFileName().toString().startsWith(TEMP_PREFIX)
                    && p.getFileName().toString().endsWith(TEMP_SUFFIX))) {
                return;
            }
        } catch (IOException e) {
            return;
        }
        if (!inProcess.tryLock()) {
            return;
        }
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock = channel.tryLock()) {
            if (lock != null) {
                removeStaleTemporaries(cache);
            }
        } catch (IOException e) {
            // a read-only cache or a lock the file system does not support: the leftovers stay
        } finally {
            inProcess.unlock();
        }
    }

    /** Deletes the temporary folders of earlier, interrupted generations (call under the lock). */
    private static void removeStaleTemporaries(Path cache) throws IOException {
        List<Path> stale;
        try (Stream<Path> s = Files.list(cache)) {
            stale = s.filter(p -> {
                        String n = p.getFileName().toString();
                        return n.startsWith(TEMP_PREFIX) && n.endsWith(TEMP_SUFFIX);
                    })
                    .toList();
        }
        for (Path p : stale) {
            FileTrees.deleteTree(p);
        }
    }

    /**
     * Writes the demo model into {@code dir} (created; must not hold another model), manifest last.
     *
     * @return {@code dir}'s model
     * @throws IOException if a file cannot be written
     */
    public static DemoModel write(Path dir) throws IOException {
        Path base = dir.resolve(BASE_MODEL);
        for (String file : RESOURCE_FILES) {
            Path target = base.resolve(file);
            Files.createDirectories(target.getParent());
            try (InputStream in = DemoModel.class.getResourceAsStream(RESOURCES + file)) {
                if (in == null) {
                    throw new IOException(
                            "flux-examples resource " + RESOURCES + file + " is missing (a broken build?)");
                }
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        safetensors(DemoWeights.clipShapes(), DemoWeights::clipTensor)
                .write(base.resolve("text_encoder/model.safetensors"));
        safetensors(DemoWeights.t5Shapes(), DemoWeights::t5Tensor)
                .write(base.resolve("text_encoder_2/model.safetensors"));
        safetensors(DemoWeights.vaeShapes(), DemoWeights::vaeTensor)
                .write(base.resolve("vae/diffusion_pytorch_model.safetensors"));
        transformerGguf().write(dir.resolve(TRANSFORMER));
        Files.writeString(dir.resolve(MANIFEST), manifest(dir));
        return new DemoModel(dir);
    }

    /** The default cache folder: {@code $FLUX4J_CACHE}, else {@code $XDG_CACHE_HOME/flux4j}, else {@code ~/.cache/flux4j}. */
    public static Path defaultCacheDir() {
        String own = System.getenv(CACHE_ENV);
        if (own != null && !own.isBlank()) {
            return Path.of(own);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "flux4j");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "flux4j");
    }

    /** sha256 of every file under {@code dir} except the manifest, in {@code sha256sum} format, sorted by path. */
    static String manifest(Path dir) throws IOException {
        Map<String, String> sums = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                String rel = dir.relativize(p).toString().replace('\\', '/');
                if (!rel.equals(MANIFEST)) {
                    sums.put(rel, sha256(p));
                }
            }
        }
        StringBuilder sb = new StringBuilder();
        sums.forEach((rel, sum) -> sb.append(sum).append("  ").append(rel).append('\n'));
        return sb.toString();
    }

    private static boolean isComplete(Path dir) {
        try {
            Path manifest = dir.resolve(MANIFEST);
            return Files.isRegularFile(manifest) && Files.readString(manifest).equals(manifest(dir));
        } catch (IOException | UncheckedIOException e) {
            return false; // unreadable counts as damaged: it is generated again
        }
    }

    private static SafetensorsWriter safetensors(
            Map<String, long[]> shapes, BiFunction<String, long[], float[]> values) {
        SafetensorsWriter w =
                SafetensorsWriter.create().metadata("format", "pt").metadata("flux4j", "demo model v" + VERSION);
        shapes.forEach((name, shape) -> w.addFloats(name, shape, values.apply(name, shape), SafetensorsDtype.F32));
        return w;
    }

    private static GgufWriter transformerGguf() {
        GgufWriter w = GgufWriter.create()
                .put("general.architecture", GgufValue.of("flux"))
                .put("general.name", GgufValue.of("flux4j demo (random weights)"))
                .put("general.quantization_version", GgufValue.uint32(2))
                .put("general.file_type", GgufValue.uint32(7)); // llama.cpp MOSTLY_Q8_0
        DemoWeights.transformerShapes().forEach((name, shape) -> {
            GgmlType type = shape.length == 1
                    ? GgmlType.F32
                    : DemoWeights.isBlockMatrix(name, shape) ? GgmlType.Q8_0 : GgmlType.F16;
            w.addTensor(name, DemoWeights.transformerTensor(name, shape), shape, type);
        });
        return w;
    }

    private static String sha256(Path p) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        try (InputStream in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "DemoModel[%s]", root);
    }
}
