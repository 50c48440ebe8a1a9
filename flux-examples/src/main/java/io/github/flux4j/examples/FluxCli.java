package io.github.flux4j.examples;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.examples.demo.DemoModel;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.pipeline.GenerationOptions;
import io.github.flux4j.pipeline.GenerationResult;
import io.github.flux4j.pipeline.ImageFiles;
import io.github.flux4j.pipeline.Offload;
import io.github.flux4j.pipeline.StepProgress;
import io.github.flux4j.pipeline.Timings;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code flux}: text to image with FLUX.1 from a GGUF transformer, or with the built-in demo model
 * when no model is named.
 *
 * <pre>
 * flux "a lighthouse at dusk" -o demo.png                  # the demo model (tiny, random weights)
 * flux --transformer flux1-dev-Q4_K_S.gguf --base-model black-forest-labs/FLUX.1-dev \
 *      --device cuda --offload model --prompt "a lighthouse at dusk" --seed 42 -o lighthouse.png
 * </pre>
 *
 * <p>Prints a progress bar per denoising step (on standard error) and a timing summary (standard
 * output). Exit status: 0 on success; 1 if a file is missing or unreadable, a model does not load
 * or generation fails (one line on standard error naming the file or the reason; the stack trace
 * only with {@code --verbose}); 2 on a usage error (naming the argument).
 */
@Command(name = "flux", mixinStandardHelpOptions = true, version = "flux (flux4j)", sortOptions = false,
        usageHelpWidth = 100,
        description = {"Generates images from a text prompt with FLUX.1 (a GGUF transformer plus a base model"
                + " in diffusers' layout). Without --transformer and --base-model it runs the demo model: a tiny"
                + " FLUX with random weights that draws abstract patterns, not pictures of the prompt.", ""},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:success", "1:a file is missing or unreadable, a model does not load, or generation failed",
                "2:usage error"})
public final class FluxCli implements Callable<Integer> {
    /** The base model used with {@code --transformer} when {@code --base-model} is not given. */
    public static final String DEFAULT_BASE_MODEL = "black-forest-labs/FLUX.1-dev";
    /** Default image side for the demo model (the real model's default is 1024). */
    static final int DEMO_SIDE = 256;
    static final String DEFAULT_OUTPUT = "flux.png";

    /** Compute dtypes as the command line spells them. */
    enum Dtype {
        bf16(ComputeDtype.BF16), f16(ComputeDtype.F16), f32(ComputeDtype.F32);

        final ComputeDtype dtype;

        Dtype(ComputeDtype dtype) {
            this.dtype = dtype;
        }
    }

    /** Offload modes as the command line spells them. */
    enum OffloadMode {
        none(Offload.NONE), model(Offload.MODEL), sequential(Offload.SEQUENTIAL);

        final Offload offload;

        OffloadMode(Offload offload) {
            this.offload = offload;
        }
    }

    @Parameters(index = "0", arity = "0..1", paramLabel = "PROMPT", description = "The prompt (or use --prompt).")
    private @Nullable String positionalPrompt;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "The prompt.")
    private @Nullable String prompt;

    @Option(names = "--transformer", paramLabel = "FILE",
            description = "The transformer: a GGUF file (e.g. flux1-dev-Q8_0.gguf), a BFL safetensors file or a"
                    + " diffusers transformer folder.")
    private @Nullable Path transformer;

    @Option(names = "--base-model", paramLabel = "PATH|REPO_ID",
            description = "Text encoders, tokenizers, VAE and scheduler: a folder in diffusers' layout or a Hugging"
                    + " Face repo id in the local cache (never downloaded). Default with --transformer: "
                    + DEFAULT_BASE_MODEL + ".")
    private @Nullable String baseModel;

    @Option(names = "--t5-gguf", paramLabel = "FILE",
            description = "A T5 encoder GGUF (e.g. t5-v1_1-xxl-encoder-Q8_0.gguf) instead of the base model's.")
    private @Nullable Path t5Gguf;

    @Option(names = "--width", paramLabel = "PX", description = "Image width (multiple of 16; default 1024, demo 256).")
    private @Nullable Integer width;

    @Option(names = "--height", paramLabel = "PX", description = "Image height (multiple of 16; default 1024, demo 256).")
    private @Nullable Integer height;

    @Option(names = "--steps", paramLabel = "N", description = "Denoising steps (default 28; 4 for schnell).")
    private @Nullable Integer steps;

    @Option(names = "--guidance", paramLabel = "SCALE", description = "Guidance scale (default 3.5; FLUX.1-dev only).")
    private @Nullable Double guidance;

    @Option(names = "--seed", paramLabel = "N", description = "Noise seed (default: random, printed).")
    private @Nullable Long seed;

    @Option(names = "--max-sequence-length", paramLabel = "N", description = "T5 tokens (default 512, at most 512).")
    private int maxSequenceLength = GenerationOptions.MAX_SEQUENCE_LENGTH;

    @Option(names = "--images", paramLabel = "N", description = "Images to generate (default 1).")
    private int images = 1;

    @Option(names = "--device", paramLabel = "DEVICE", description = "cpu, cuda or cuda:N (default: cuda:0 if usable, else cpu).")
    private @Nullable String device;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "Compute dtype: bf16, f16 or f32 (default: bf16 on CUDA, f32 on the CPU).")
    private @Nullable Dtype dtype;

    @Option(names = "--offload", paramLabel = "MODE",
            description = "none (default), model: keep each model on the CPU except while it runs (less GPU memory),"
                    + " or sequential: also stream the transformer's blocks from pinned CPU memory (least GPU memory).")
    private OffloadMode offload = OffloadMode.none;

    @Option(names = "--vram-budget", paramLabel = "SIZE", converter = ByteSizes.Converter.class,
            description = "Plan memory for a GPU of SIZE (e.g. 6G, 6GiB, 7.5G, 12000M; G = GiB): per model resident,"
                    + " offloaded or (T5) on the CPU, per transformer block resident or streamed; prints the plan."
                    + " Instead of --offload.")
    private @Nullable Long vramBudget;

    @Option(names = "--threads", paramLabel = "N",
            description = "CPU threads for LibTorch's operators (default: one per core; 1 for the demo model).")
    private @Nullable Integer threads;

    @Option(names = {"-o", "--output"}, paramLabel = "PATH",
            description = "The image file, .png or .jpg (default " + DEFAULT_OUTPUT + "); with several images"
                    + " NAME_1.png, NAME_2.png, ...")
    private Path output = Path.of(DEFAULT_OUTPUT);

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Where the demo model is generated (default $FLUX4J_CACHE, else ~/.cache/flux4j).")
    private @Nullable Path cacheDir;

    @Option(names = "--no-progress", description = "No progress bar.")
    private boolean noProgress;

    @Option(names = {"-v", "--verbose"}, description = "Log what the pipeline does; stack traces on errors.")
    private boolean verbose;

    @CommandLine.Spec
    private CommandLine.Model.@Nullable CommandSpec spec;

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        Main.configureNativeMemory();
        System.exit(run(new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8), args));
    }

    /** Runs the command with the given output streams; returns the exit status. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cmd = Main.configure(new CommandLine(new FluxCli()), out, err);
        int status = cmd.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    @Override
    public Integer call() throws Exception {
        CommandLine cl = spec().commandLine();
        PrintWriter out = cl.getOut();
        PrintWriter err = cl.getErr();
        String name = Main.commandName(cl);
        configureLogging(verbose);

        // Everything the user typed is checked before any model loads.
        String text = checkArguments(cl);
        FluxDevice dev;
        try {
            dev = device == null ? (FluxDevice.cudaAvailable() ? FluxDevice.cuda(0) : FluxDevice.cpu())
                    : FluxDevice.parse(device);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--device: " + e.getMessage());
        }
        ComputeDtype computeDtype = dtype != null ? dtype.dtype : dev.isCuda() ? ComputeDtype.BF16 : ComputeDtype.F32;
        boolean demo = transformer == null && baseModel == null;
        if (threads != null || demo) {
            // The demo model's operations are too small to gain from more threads, and idle pool
            // threads spin: on a busy machine two threads on two cores ran it ten times slower.
            Torch.setIntraOpThreads(threads != null ? threads : 1); // OpenBLAS's pool too
        }

        try {
            Path transformerFile;
            String base;
            if (demo) {
                out.println("Demo model: a tiny FLUX with random weights. It draws abstract patterns, not pictures of"
                        + " the prompt; pass --transformer FILE.gguf for FLUX.1.");
                Path cache = cacheDir != null ? cacheDir : DemoModel.defaultCacheDir();
                DemoModel model = DemoModel.find(cache).orElse(null);
                if (model == null) {
                    long g0 = System.nanoTime();
                    model = DemoModel.ensureIn(cache);
                    out.printf(Locale.ROOT, "Generated the demo model in %s (%s, first use only)%n", model.root(),
                            secs(Duration.ofNanos(System.nanoTime() - g0)));
                }
                transformerFile = model.transformer();
                base = model.baseModel().toString();
            } else {
                transformerFile = requireFile("--transformer", transformer);
                base = baseModel != null ? baseModel : DEFAULT_BASE_MODEL;
            }
            if (t5Gguf != null) {
                requireFile("--t5-gguf", t5Gguf);
            }

            GenerationOptions.Builder options = GenerationOptions.builder()
                    .maxSequenceLength(maxSequenceLength)
                    .numImagesPerPrompt(images);
            Integer h = height != null ? height : demo ? Integer.valueOf(DEMO_SIDE) : null;
            Integer w = width != null ? width : demo ? Integer.valueOf(DEMO_SIDE) : null;
            if (h != null) {
                options.height(h);
            }
            if (w != null) {
                options.width(w);
            }
            if (steps != null) {
                options.steps(steps);
            }
            if (guidance != null) {
                options.guidanceScale(guidance);
            }
            // A random seed is drawn here, small enough to retype, and printed with the result.
            options.seed(seed != null ? seed : new SecureRandom().nextInt(Integer.MAX_VALUE));

            long t0 = System.nanoTime();
            FluxPipeline.Builder builder = FluxPipeline.builder()
                    .transformer(transformerFile)
                    .baseModel(base)
                    .t5Gguf(t5Gguf)
                    .device(dev)
                    .computeDtype(computeDtype)
                    .offload(offload.offload);
            if (vramBudget != null) {
                builder.vramBudget(vramBudget);
            }
            try (FluxPipeline pipeline = builder.build()) {
                Duration load = Duration.ofNanos(System.nanoTime() - t0);
                if (vramBudget != null || offload != OffloadMode.none) {
                    out.println(pipeline.describeMemoryPlan());
                }
                int totalSteps = steps != null ? steps : pipeline.defaultSteps();
                CudaMemory.resetPeak(dev);
                GenerationResult result;
                try (Progress progress = new Progress(err, totalSteps, !noProgress)) {
                    result = pipeline.generate(text, options.progressListener(progress::onStep).build());
                }
                if (!verbose) {
                    // With --verbose the pipeline's logger has printed them already.
                    result.warnings().forEach(wn -> err.println(name + ": warning: " + wn));
                }
                List<Path> files = outputFiles(output, result.images().size());
                for (int i = 0; i < files.size(); i++) {
                    Path parent = files.get(i).toAbsolutePath().getParent();
                    if (parent != null) {
                        Files.createDirectories(parent);
                    }
                    save(result, i, files.get(i));
                    out.printf(Locale.ROOT, "Wrote %s (%dx%d)%n", files.get(i), result.width(), result.height());
                }
                printSummary(out, result, load, dev, computeDtype);
            }
            return 0;
        } catch (NoSuchFileException e) {
            return fail(err, name, e, e.getFile() + ": no such file" + (e.getReason() != null ? " (" + e.getReason() + ")" : ""));
        } catch (AccessDeniedException e) {
            return fail(err, name, e, e.getFile() + ": permission denied");
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            return fail(err, name, e, e.getMessage() != null ? e.getMessage() : e.toString());
        }
    }

    /** Writes image {@code i}; a failure names the file asked for, not the temporary one. */
    private static void save(GenerationResult result, int i, Path file) throws IOException {
        try {
            result.save(i, file);
        } catch (NoSuchFileException e) {
            throw new IOException("cannot write " + file + ": no such folder", e);
        } catch (AccessDeniedException e) {
            throw new IOException("cannot write " + file + ": permission denied", e);
        } catch (IOException e) {
            throw new IOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private int fail(PrintWriter err, String name, Throwable e, String message) {
        err.println(name + ": " + message);
        if (verbose) {
            e.printStackTrace(err);
        }
        return 1;
    }

    /** The prompt; a {@link CommandLine.ParameterException} (exit 2) names the first bad argument. */
    private String checkArguments(CommandLine cl) {
        if (prompt != null && positionalPrompt != null) {
            throw new CommandLine.ParameterException(cl, "give the prompt once: either PROMPT or --prompt, not both");
        }
        String text = prompt != null ? prompt : positionalPrompt;
        if (text == null) {
            throw new CommandLine.ParameterException(cl, "missing prompt: give PROMPT or --prompt TEXT");
        }
        checkRange(cl, "--width", width, GenerationOptions.MIN_SIDE, GenerationOptions.MAX_SIDE);
        checkRange(cl, "--height", height, GenerationOptions.MIN_SIDE, GenerationOptions.MAX_SIDE);
        checkRange(cl, "--steps", steps, 1, GenerationOptions.MAX_STEPS);
        checkRange(cl, "--max-sequence-length", maxSequenceLength, 1, GenerationOptions.MAX_SEQUENCE_LENGTH);
        checkRange(cl, "--images", images, 1, 64);
        checkRange(cl, "--threads", threads, 1, 1024);
        if (guidance != null && !Double.isFinite(guidance)) {
            throw new CommandLine.ParameterException(cl, "--guidance: must be a finite number, got " + guidance);
        }
        try {
            ImageFiles.Format.forFile(output);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--output: " + e.getMessage());
        }
        if (transformer == null && baseModel != null) {
            throw new CommandLine.ParameterException(cl, "--base-model needs --transformer FILE (the transformer's"
                    + " weights, e.g. a GGUF file); with neither, the demo model runs");
        }
        if (vramBudget != null && offload != OffloadMode.none) {
            throw new CommandLine.ParameterException(cl, "--vram-budget and --offload " + offload + " both choose where"
                    + " the models live; give one");
        }
        if (transformer == null && t5Gguf != null) {
            throw new CommandLine.ParameterException(cl, "--t5-gguf needs --transformer FILE (the demo model has its"
                    + " own tiny T5)");
        }
        return text;
    }

    private static void checkRange(CommandLine cl, String option, @Nullable Integer value, int min, int max) {
        if (value != null && (value < min || value > max)) {
            throw new CommandLine.ParameterException(cl, option + ": must be in " + min + ".." + max + ", got " + value);
        }
    }

    private static Path requireFile(String option, @Nullable Path file) throws NoSuchFileException {
        if (file == null || !Files.exists(file)) {
            throw new NoSuchFileException(String.valueOf(file), null, option + " file not found");
        }
        return file;
    }

    /** {@code out} itself for one image; {@code NAME_1.EXT, NAME_2.EXT, ...} for several. */
    static List<Path> outputFiles(Path out, int count) {
        if (count == 1) {
            return List.of(out);
        }
        String file = String.valueOf(out.getFileName());
        int dot = file.lastIndexOf('.');
        String stem = dot > 0 ? file.substring(0, dot) : file;
        String ext = dot > 0 ? file.substring(dot) : "";
        List<Path> files = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            files.add(out.resolveSibling(stem + "_" + i + ext));
        }
        return files;
    }

    private static void printSummary(PrintWriter out, GenerationResult r, Duration load, FluxDevice dev, ComputeDtype dtype) {
        Timings t = r.timings();
        String guidance = Double.isNaN(r.guidanceScale()) ? "" : String.format(Locale.ROOT, ", guidance %s", r.guidanceScale());
        out.printf(Locale.ROOT, "Seed %s, %d step%s%s, %s %s%n", seedText(r), r.steps(), r.steps() == 1 ? "" : "s", guidance, dev,
                dtype.name().toLowerCase(Locale.ROOT));
        out.printf(Locale.ROOT, "Timings: load %s | text encoding %s | denoising %s (%d x %s) | decode %s | generate %s%n",
                secs(load), secs(t.textEncoding()), secs(t.denoising()), t.steps().size(), secs(t.meanStep()),
                secs(t.decode()), secs(t.total()));
        if (!t.modelMoves().isZero()) {
            out.printf(Locale.ROOT, "Model moves (offload): %s%n", secs(t.modelMoves()));
        }
        CudaMemory.peak(dev).ifPresent(p -> out.printf(Locale.ROOT, "Peak GPU memory: %.2f GiB allocated, %.2f GiB reserved%n",
                p[0] / (double) (1L << 30), p[1] / (double) (1L << 30)));
    }

    private static String seedText(GenerationResult r) {
        long[] seeds = r.seed().seeds();
        return seeds.length == 1 ? Long.toString(seeds[0]) : Arrays.toString(seeds);
    }

    private static String secs(Duration d) {
        double s = d.toNanos() / 1e9;
        return s < 1 ? String.format(Locale.ROOT, "%.0f ms", s * 1000) : String.format(Locale.ROOT, "%.2f s", s);
    }

    /**
     * slf4j-simple's settings, unless the user set them: warnings and errors go through the
     * command's own messages, so the pipeline's log is off unless {@code --verbose}.
     */
    static void configureLogging(boolean verbose) {
        setDefault("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "debug" : "off");
        setDefault("org.slf4j.simpleLogger.showThreadName", "false");
        setDefault("org.slf4j.simpleLogger.showShortLogName", "true");
        setDefault("org.slf4j.simpleLogger.logFile", "System.err");
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    private CommandLine.Model.CommandSpec spec() {
        if (spec == null) {
            throw new IllegalStateException("picocli did not inject the command spec");
        }
        return spec;
    }

    /** The denoising progress bar: live on a terminal, one final line otherwise, nothing if disabled. */
    private static final class Progress implements AutoCloseable {
        private final @Nullable ProgressBar bar;

        Progress(PrintWriter err, int steps, boolean enabled) {
            if (!enabled) {
                bar = null;
                return;
            }
            // The bar writes to a PrintStream; on a terminal it redraws one line, elsewhere (logs,
            // pipes) only the final state is printed, so that files do not fill with redraws.
            PrintStream stream = new PrintStream(new WriterOutputStream(err), true, StandardCharsets.UTF_8);
            ProgressBarConsumer consumer = System.console() != null
                    ? new ConsoleProgressBarConsumer(stream, terminalWidth()) : new FinalLineConsumer(stream);
            bar = new ProgressBarBuilder()
                    .setTaskName("Denoising")
                    .setInitialMax(steps)
                    .setStyle(ProgressBarStyle.ASCII)
                    .setUnit(" steps", 1)
                    .setUpdateIntervalMillis(100)
                    .setConsumer(consumer)
                    .build();
        }

        void onStep(StepProgress p) {
            if (bar != null) {
                bar.maxHint(p.totalSteps());
                bar.stepTo(p.completed());
                bar.setExtraMessage(String.format(Locale.ROOT, "%.2f s/step", p.stepTime().toNanos() / 1e9));
            }
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }

        private static int terminalWidth() {
            try {
                String columns = System.getenv("COLUMNS");
                return columns != null ? Math.max(40, Integer.parseInt(columns.strip())) : 100;
            } catch (NumberFormatException e) {
                return 100;
            }
        }
    }

    /** Keeps the latest rendering and prints it once, when the bar closes. */
    private static final class FinalLineConsumer implements ProgressBarConsumer {
        private final PrintStream out;
        private @Nullable String last;

        FinalLineConsumer(PrintStream out) {
            this.out = out;
        }

        @Override
        public int getMaxRenderedLength() {
            return 100;
        }

        @Override
        public synchronized void accept(String rendered) {
            last = rendered;
        }

        @Override
        public synchronized void close() {
            if (last != null) {
                out.println(last.stripTrailing());
            }
        }
    }

    /** A byte stream onto a {@link PrintWriter} (UTF-8), for the progress bar. */
    private static final class WriterOutputStream extends java.io.OutputStream {
        private final PrintWriter writer;
        private final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();

        WriterOutputStream(PrintWriter writer) {
            this.writer = writer;
        }

        @Override
        public synchronized void write(int b) {
            pending.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            pending.write(b, off, len);
        }

        @Override
        public synchronized void flush() {
            writer.write(pending.toString(StandardCharsets.UTF_8));
            pending.reset();
            writer.flush();
        }
    }
}
