package io.github.flux4j.examples;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.examples.demo.DemoModel;
import io.github.flux4j.gguf.GgufException;
import io.github.flux4j.pipeline.Cancellation;
import io.github.flux4j.pipeline.FluxOutOfMemoryException;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.pipeline.GenerationCancelledException;
import io.github.flux4j.pipeline.GenerationOptions;
import io.github.flux4j.pipeline.GenerationResult;
import io.github.flux4j.pipeline.ImageFiles;
import io.github.flux4j.pipeline.Offload;
import io.github.flux4j.pipeline.StepProgress;
import io.github.flux4j.pipeline.Timings;
import io.github.flux4j.pipeline.hub.DownloadListener;
import io.github.flux4j.pipeline.hub.HubException;
import io.github.flux4j.pipeline.hub.HubFiles;
import io.github.flux4j.pipeline.hub.HubPath;
import io.github.flux4j.pipeline.model.FluxModelFolder;
import io.github.flux4j.pipeline.model.HuggingFaceCache;
import io.github.flux4j.pipeline.model.ModelFolderException;
import io.github.flux4j.pipeline.scheduler.SchedulerConfigException;
import io.github.flux4j.tokenizers.TokenizerFormatException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
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
 * flux --transformer city96/FLUX.1-dev-gguf/flux1-dev-Q8_0.gguf "a lighthouse at dusk"   # downloaded if missing
 * </pre>
 *
 * <p>Repository ids and repository files ({@code org/name[@revision]/path}) not in the Hugging
 * Face cache are downloaded into it (only the files the run reads), with one progress bar, unless
 * {@code --offline} or {@code HF_HUB_OFFLINE=1}; {@code HF_TOKEN}, {@code HF_ENDPOINT},
 * {@code HF_HOME} and {@code HF_HUB_CACHE} are honoured as by {@code huggingface_hub}.
 *
 * <p>Prints the device it picked and why (before loading anything), a progress bar per denoising
 * step (on standard error) and a timing summary (standard output). Arguments, input files, the
 * device and the output path are checked before any model loads. Ctrl-C or SIGTERM (when run
 * through {@code main}) cancels the generation within one transformer block and removes temporary
 * files. An image that cannot be written where asked is saved under another name, which is
 * printed. Exit status ({@link #exitCode}, from flux4j's exception hierarchy): 0 on success; 2 on
 * a usage error (naming the argument); 3 if a model or input file is missing, unreadable,
 * malformed, unsupported or cannot be downloaded; 4 if the device (or the JVM) ran out of memory;
 * 130 if the generation was cancelled (Ctrl-C, SIGTERM); 1 for anything else (the device cannot
 * be used, the image could not be written where asked, an unexpected error). A failure is one
 * line on standard error naming the file or the reason; the stack trace only with
 * {@code --verbose}.
 */
@Command(
        name = "flux",
        mixinStandardHelpOptions = true,
        versionProvider = FluxVersion.class,
        sortOptions = false,
        usageHelpWidth = 100,
        description = {
            "Generates images from a text prompt with FLUX.1 (a GGUF transformer plus a base model"
                    + " in diffusers' layout). Without --transformer and --base-model it runs the demo model: a tiny"
                    + " FLUX with random weights that draws abstract patterns, not pictures of the prompt.",
            ""
        },
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {
            "0:success",
            "1:the device cannot be used, the image could not be written where asked (it"
                    + " is then saved under another name, printed), or another failure",
            "2:usage error, including an" + " output path that cannot be written (checked before any work)",
            "3:a model or input file is" + " missing, unreadable, malformed, unsupported or cannot be downloaded",
            "4:out of memory (device" + " or Java heap)",
            "130:cancelled (Ctrl-C, SIGTERM)"
        })
public final class FluxCli implements Callable<Integer> {
    /** The base model used with {@code --transformer} when {@code --base-model} is not given. */
    public static final String DEFAULT_BASE_MODEL = "black-forest-labs/FLUX.1-dev";
    /** Default image side for the demo model (the real model's default is 1024). */
    static final int DEMO_SIDE = 256;

    static final String DEFAULT_OUTPUT = "flux.png";

    /** Compute dtypes as the command line spells them. */
    enum Dtype {
        bf16(ComputeDtype.BF16),
        f16(ComputeDtype.F16),
        f32(ComputeDtype.F32);

        final ComputeDtype dtype;

        Dtype(ComputeDtype dtype) {
            this.dtype = dtype;
        }
    }

    /** Offload modes as the command line spells them. */
    enum OffloadMode {
        none(Offload.NONE),
        model(Offload.MODEL),
        sequential(Offload.SEQUENTIAL);

        final Offload offload;

        OffloadMode(Offload offload) {
            this.offload = offload;
        }
    }

    @Parameters(index = "0", arity = "0..1", paramLabel = "PROMPT", description = "The prompt (or use --prompt).")
    private @Nullable String positionalPrompt;

    @Option(
            names = {"-p", "--prompt"},
            paramLabel = "TEXT",
            description = "The prompt.")
    private @Nullable String prompt;

    @Option(
            names = "--transformer",
            paramLabel = "FILE|ORG/NAME[@REV]/FILE",
            description = "The transformer: a GGUF file (e.g. flux1-dev-Q8_0.gguf), a BFL safetensors file or a"
                    + " diffusers transformer folder; or a file of a Hugging Face repository, e.g."
                    + " city96/FLUX.1-dev-gguf/flux1-dev-Q8_0.gguf (downloaded if not cached).")
    private @Nullable String transformer;

    @Option(
            names = "--base-model",
            paramLabel = "PATH|ORG/NAME[@REV]",
            description = "Text encoders, tokenizers, VAE and scheduler: a folder in diffusers' layout or a Hugging"
                    + " Face repo id (its needed files downloaded into the Hugging Face cache if missing; no"
                    + " transformer/, no T5 with --t5-gguf). Default with --transformer: " + DEFAULT_BASE_MODEL + ".")
    private @Nullable String baseModel;

    @Option(
            names = "--t5-gguf",
            paramLabel = "FILE|ORG/NAME[@REV]/FILE",
            description = "A T5 encoder GGUF (e.g. t5-v1_1-xxl-encoder-Q8_0.gguf, or"
                    + " city96/t5-v1_1-xxl-encoder-gguf/t5-v1_1-xxl-encoder-Q8_0.gguf) instead of the base model's.")
    private @Nullable String t5Gguf;

    @Option(
            names = "--offline",
            description = "Download nothing: use the Hugging Face cache only (as HF_HUB_OFFLINE=1).")
    private boolean offline;

    @Option(names = "--width", paramLabel = "PX", description = "Image width (multiple of 16; default 1024, demo 256).")
    private @Nullable Integer width;

    @Option(
            names = "--height",
            paramLabel = "PX",
            description = "Image height (multiple of 16; default 1024, demo 256).")
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

    @Option(
            names = "--device",
            paramLabel = "DEVICE",
            description = "cpu, cuda or cuda:N (default: cuda:0 if usable, else cpu).")
    private @Nullable String device;

    @Option(
            names = "--dtype",
            paramLabel = "TYPE",
            description = "Compute dtype: bf16, f16 or f32 (default: bf16 on CUDA, f32 on the CPU).")
    private @Nullable Dtype dtype;

    @Option(
            names = "--offload",
            paramLabel = "MODE",
            description = "none (default), model: keep each model on the CPU except while it runs (less GPU memory),"
                    + " or sequential: also stream the transformer's blocks from pinned CPU memory (least GPU memory).")
    private OffloadMode offload = OffloadMode.none;

    @Option(
            names = "--vram-budget",
            paramLabel = "SIZE",
            converter = ByteSizes.Converter.class,
            description = "Plan memory for a GPU of SIZE (e.g. 6G, 6GiB, 7.5G, 12000M; G = GiB): per model resident,"
                    + " offloaded or (T5) on the CPU, per transformer block resident or streamed; prints the plan."
                    + " Instead of --offload.")
    private @Nullable Long vramBudget;

    @Option(
            names = "--dequantized-cache",
            paramLabel = "SIZE",
            converter = ByteSizes.Converter.class,
            description =
                    "Keep up to SIZE (e.g. 24G) of expanded GGUF weights on the GPU instead of expanding them every"
                            + " step: dense speed on a card with room to spare; the same image. Not with --offload sequential"
                            + " or --vram-budget.")
    private @Nullable Long dequantizedCache;

    @Option(
            names = "--threads",
            paramLabel = "N",
            description = "CPU threads for LibTorch's operators (default: one per core; 1 for the demo model).")
    private @Nullable Integer threads;

    @Option(
            names = {"-o", "--output"},
            paramLabel = "PATH",
            description = "The image file, .png or .jpg (default " + DEFAULT_OUTPUT + "); with several images"
                    + " NAME_1.png, NAME_2.png, ...")
    private Path output = Path.of(DEFAULT_OUTPUT);

    @Option(
            names = "--cache-dir",
            paramLabel = "DIR",
            description = "Where the demo model is generated (default $FLUX4J_CACHE, else ~/.cache/flux4j).")
    private @Nullable Path cacheDir;

    @Option(names = "--no-progress", description = "No progress bar.")
    private boolean noProgress;

    @Option(
            names = {"-v", "--verbose"},
            description = "Log what the pipeline does; stack traces on errors.")
    private boolean verbose;

    @CommandLine.Spec
    private CommandLine.Model.@Nullable CommandSpec spec;

    /** The environment Hub settings are read from ({@code HF_*}). */
    private final Map<String, String> env;

    /** A command reading this process's environment. */
    public FluxCli() {
        this(System.getenv());
    }

    /** A command reading Hub settings ({@code HF_TOKEN}, {@code HF_HOME}...) from {@code env}. */
    FluxCli(Map<String, String> env) {
        this.env = Map.copyOf(env);
    }

    /**
     * Whether a signal (Ctrl-C, SIGTERM) should stop a running generation cleanly: set by the
     * {@code main} methods only, so that in-process callers (tests, embedding programs) keep
     * their own shutdown behaviour.
     */
    static volatile boolean stopOnSignal;

    /** Called with each image file right before it is written (tests: to make the write fail). */
    private Consumer<Path> beforeSave = file -> {};

    /** Exit status: a failure that fits none of the statuses below. */
    static final int EXIT_FAILURE = 1;
    /** Exit status: a usage error, naming the argument. */
    static final int EXIT_USAGE = CommandLine.ExitCode.USAGE;
    /** Exit status: a model or input file missing, unreadable, malformed, unsupported or not downloadable. */
    static final int EXIT_BAD_INPUT = 3;
    /** Exit status: the device or the JVM ran out of memory. */
    static final int EXIT_OUT_OF_MEMORY = 4;
    /** Exit status: cancelled (128 + SIGINT, as shells report a Ctrl-C). */
    static final int EXIT_CANCELLED = 130;

    /**
     * The exit status for a failure, from flux4j's exception hierarchy (docs/errors.md): the one
     * place the command line maps exceptions to statuses. {@code null} (a failure the command
     * detected itself, such as an unusable device) is {@value #EXIT_FAILURE}.
     */
    static int exitCode(@Nullable Throwable e) {
        if (e instanceof CommandLine.ParameterException) {
            return EXIT_USAGE;
        }
        if (e instanceof GenerationCancelledException || e instanceof CancellationException) {
            return EXIT_CANCELLED;
        }
        if (e instanceof FluxOutOfMemoryException || e instanceof OutOfMemoryError) {
            return EXIT_OUT_OF_MEMORY;
        }
        if (e instanceof FluxIoException
                || e instanceof IOException
                || e instanceof GgufException
                || e instanceof WeightException
                || e instanceof ModelFolderException
                || e instanceof TokenizerFormatException
                || e instanceof SchedulerConfigException
                || e instanceof HubException) {
            return EXIT_BAD_INPUT;
        }
        return EXIT_FAILURE;
    }

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        Main.configureNativeMemory();
        stopOnSignal = true;
        System.exit(run(
                new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8),
                args));
    }

    /** Runs the command with the given output streams; returns the exit status. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return run(out, err, System.getenv(), file -> {}, args);
    }

    /** {@link #run(PrintWriter, PrintWriter, String...)} with Hub settings from {@code env}. */
    static int run(PrintWriter out, PrintWriter err, Map<String, String> env, String... args) {
        return run(out, err, env, file -> {}, args);
    }

    /** {@link #run(PrintWriter, PrintWriter, String...)} with a hook called before each image is written. */
    static int run(PrintWriter out, PrintWriter err, Consumer<Path> beforeSave, String... args) {
        return run(out, err, System.getenv(), beforeSave, args);
    }

    /** The command with Hub settings from {@code env} and a hook called before each image is written. */
    static int run(
            PrintWriter out, PrintWriter err, Map<String, String> env, Consumer<Path> beforeSave, String... args) {
        FluxCli cli = new FluxCli(env);
        cli.beforeSave = beforeSave;
        CommandLine cmd = Main.configure(new CommandLine(cli), out, err);
        int status = cmd.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    @Override
    @SuppressWarnings("try") // the signal handler is opened for its effect only
    public Integer call() throws Exception {
        CommandLine cl = spec().commandLine();
        PrintWriter out = cl.getOut();
        PrintWriter err = cl.getErr();
        String name = Main.commandName(cl);
        configureLogging(verbose);

        // Everything the user typed is checked before any model loads: the output path too, so
        // that a bad one fails now and not after minutes of work.
        String text = checkArguments(cl);
        FluxDevice requested;
        try {
            requested = device == null ? null : FluxDevice.parse(device);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--device: " + e.getMessage());
        }
        boolean demo = transformer == null && baseModel == null;
        try {
            if (!demo) {
                requireFileOrHub("--transformer", Objects.requireNonNull(transformer)); // checkArguments
            }
            if (t5Gguf != null) {
                requireFileOrHub("--t5-gguf", t5Gguf);
            }
        } catch (NoSuchFileException e) {
            return fail(err, name, e, e.getFile() + ": no such file (" + e.getReason() + ")");
        }

        // The device, and why, before anything loads: a CPU run of FLUX.1 takes hours.
        FluxDevice dev;
        String why;
        if (requested == null) {
            if (FluxDevice.cudaAvailable()) {
                dev = FluxDevice.cuda(0);
                why = "CUDA is usable";
            } else {
                dev = FluxDevice.cpu();
                why = "no --device given and CUDA is not usable: " + cudaReason();
            }
        } else {
            String given = Objects.requireNonNull(device); // requested was parsed from it
            dev = requested;
            why = "--device " + given.strip();
            if (dev.isCuda() && !FluxDevice.cudaAvailable()) {
                return fail(
                        err,
                        name,
                        null,
                        "--device " + given.strip() + ": CUDA is not usable here: " + cudaReason()
                                + ". Use --device cpu (FLUX.1 then takes minutes per step), or the CUDA build"
                                + " (mvn -Pcuda install, CUDA 13 and cuDNN 9 libraries, an NVIDIA GPU; see 'FLUX.1-dev on a GPU'"
                                + " in flux-examples/README.md)");
            }
        }
        ComputeDtype computeDtype = dtype != null ? dtype.dtype : dev.isCuda() ? ComputeDtype.BF16 : ComputeDtype.F32;
        out.printf(
                Locale.ROOT, "Device: %s, %s (%s)%n", dev, computeDtype.name().toLowerCase(Locale.ROOT), why);
        if (!demo && !dev.isCuda() && requested == null) {
            err.println(name + ": warning: running FLUX.1 on the CPU in "
                    + computeDtype.name().toLowerCase(Locale.ROOT)
                    + ": expect minutes per denoising step (hours per image). For a GPU see 'FLUX.1-dev on a GPU' in"
                    + " flux-examples/README.md; pass --device cpu to run on the CPU without this warning.");
        }
        if (threads != null || demo) {
            // The demo model's operations are too small to gain from more threads, and idle pool
            // threads spin: on a busy machine two threads on two cores ran it ten times slower.
            Torch.setIntraOpThreads(threads != null ? threads : 1); // OpenBLAS's pool too
        }

        Cancellation stop = new Cancellation();
        try (SignalStop signals = stopOnSignal ? new SignalStop(stop) : null) {
            return generate(out, err, name, text, demo, dev, computeDtype, stop);
        }
    }

    private int generate(
            PrintWriter out,
            PrintWriter err,
            String name,
            String text,
            boolean demo,
            FluxDevice dev,
            ComputeDtype computeDtype,
            Cancellation stop) {
        try {
            String transformerSpec;
            String base;
            if (demo) {
                out.println("Demo model: a tiny FLUX with random weights. It draws abstract patterns, not pictures of"
                        + " the prompt; pass --transformer FILE.gguf for FLUX.1.");
                Path cache = cacheDir != null ? cacheDir : DemoModel.defaultCacheDir();
                DemoModel model = DemoModel.find(cache).orElse(null);
                if (model == null) {
                    long g0 = System.nanoTime();
                    model = DemoModel.ensureIn(cache);
                    out.printf(
                            Locale.ROOT,
                            "Generated the demo model in %s (%s, first use only)%n",
                            model.root(),
                            secs(Duration.ofNanos(System.nanoTime() - g0)));
                }
                transformerSpec = model.transformer().toString();
                base = model.baseModel().toString();
            } else {
                transformerSpec = requireFileOrHub("--transformer", Objects.requireNonNull(transformer));
                base = baseModel != null ? baseModel : DEFAULT_BASE_MODEL;
            }
            if (t5Gguf != null) {
                requireFileOrHub("--t5-gguf", t5Gguf);
            }
            HubFiles hub = HubFiles.fromEnvironment(env, Path.of(System.getProperty("user.home")));
            hub = hub.withOffline(offline || hub.offline());

            GenerationOptions.Builder options = GenerationOptions.builder()
                    .maxSequenceLength(maxSequenceLength)
                    .numImagesPerPrompt(images)
                    .cancellation(stop);
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
                    .baseModel(base)
                    .device(dev)
                    .computeDtype(computeDtype)
                    .offload(offload.offload)
                    // What the run needs is in the cache after the downloads below: the builder only reads it.
                    .downloads(hub.withOffline(true));
            if (vramBudget != null) {
                builder.vramBudget(vramBudget);
            }
            if (dequantizedCache != null) {
                builder.dequantizedCacheBytes(dequantizedCache);
            }
            // Everything to download first, under one progress bar, before any model loads.
            try (DownloadProgress downloads = new DownloadProgress(err, !noProgress)) {
                builder.transformer(fetch(hub, downloads, "--transformer", transformerSpec));
                if (t5Gguf != null) {
                    builder.t5Gguf(fetch(hub, downloads, "--t5-gguf", t5Gguf));
                }
                fetchBaseModel(hub, downloads, base);
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
                    result = pipeline.generate(
                            text, options.progressListener(progress::onStep).build());
                }
                if (!verbose) {
                    // With --verbose the pipeline's logger has printed them already.
                    result.warnings().forEach(wn -> err.println(name + ": warning: " + wn));
                }
                boolean allWritten = true;
                List<Path> files = outputFiles(output, result.images().size());
                for (int i = 0; i < files.size(); i++) {
                    allWritten &= write(out, err, name, result, i, files.get(i));
                }
                printSummary(out, result, load, dev, computeDtype);
                return allWritten ? 0 : 1;
            }
        } catch (NoSuchFileException e) {
            return fail(
                    err,
                    name,
                    e,
                    e.getFile() + ": no such file" + (e.getReason() != null ? " (" + e.getReason() + ")" : ""));
        } catch (AccessDeniedException e) {
            return fail(err, name, e, e.getFile() + ": permission denied");
        } catch (GenerationCancelledException | CancellationException e) {
            return fail(err, name, e, e.getMessage() != null ? e.getMessage() : "generation cancelled");
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            if (Thread.currentThread().isInterrupted() || stop.isCancelled()) {
                // e.g. a file channel closed by the interrupt of a Ctrl-C: say so, not "channel closed"
                fail(err, name, e, "interrupted" + (e.getMessage() != null ? " (" + e.getMessage() + ")" : ""));
                return EXIT_CANCELLED;
            }
            return fail(err, name, e, e.getMessage() != null ? e.getMessage() : e.toString());
        }
    }

    /**
     * Writes image {@code i} to {@code file}, creating its folder. If that fails (the folder
     * vanished, the disk is full, the name became a folder), the image is not lost: it is written
     * under another name ({@link #rescueFiles}) and both messages are printed. Returns whether the
     * file asked for was written.
     */
    private boolean write(PrintWriter out, PrintWriter err, String name, GenerationResult result, int i, Path file) {
        try {
            beforeSave.accept(file);
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            save(result, i, file);
            out.printf(Locale.ROOT, "Wrote %s (%dx%d)%n", file, result.width(), result.height());
            return true;
        } catch (IOException | FluxIoException e) {
            err.println(name + ": " + e.getMessage());
            if (verbose) {
                e.printStackTrace(err);
            }
            for (Path rescue : rescueFiles(file, result.seed().seeds()[0])) {
                try {
                    result.save(i, rescue);
                    err.println(name + ": the image was saved to " + rescue + " instead");
                    return false;
                } catch (RuntimeException again) {
                    // the next place
                }
            }
            err.println(name + ": the image could not be saved anywhere (tried next to " + file
                    + ", the current folder and " + System.getProperty("java.io.tmpdir") + ")");
            return false;
        }
    }

    /**
     * Where an image goes when its file cannot be written: {@code NAME-seedS.EXT} next to it, in
     * the current folder, then in the temporary folder; {@code NAME-seedS-2.EXT} and so on when
     * the name is taken (an existing file is never replaced).
     */
    static List<Path> rescueFiles(Path file, long seed) {
        String fileName = String.valueOf(file.getFileName());
        int dot = fileName.lastIndexOf('.');
        String stem = dot > 0 ? fileName.substring(0, dot) : fileName;
        String ext = dot > 0 ? fileName.substring(dot) : ".png";
        List<Path> dirs = new ArrayList<>();
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            dirs.add(parent);
        }
        dirs.add(Path.of("").toAbsolutePath());
        dirs.add(Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath());
        List<Path> out = new ArrayList<>();
        for (Path dir : dirs.stream().distinct().toList()) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            for (int k = 1; k <= 100; k++) {
                Path p = dir.resolve(stem + "-seed" + seed + (k == 1 ? "" : "-" + k) + ext);
                if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(p);
                    break;
                }
            }
        }
        return out;
    }

    private static String cudaReason() {
        return FluxDevice.cudaUnavailableReason().orElse("unknown reason");
    }

    /** Writes image {@code i}; a failure names the file asked for, not the temporary one. */
    private static void save(GenerationResult result, int i, Path file) {
        try {
            result.save(i, file);
        } catch (FluxIoException e) {
            IOException cause = e.getCause();
            String why = cause instanceof NoSuchFileException
                    ? "no such folder"
                    : cause instanceof AccessDeniedException ? "permission denied" : cause.getMessage();
            throw new FluxIoException("cannot write " + file + ": " + why, cause);
        }
    }

    /** Prints {@code message} (and with --verbose the stack trace); returns {@link #exitCode}'s status. */
    private int fail(PrintWriter err, String name, @Nullable Throwable e, String message) {
        err.println(name + ": " + message);
        if (verbose && e != null) {
            e.printStackTrace(err);
        }
        return exitCode(e);
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
        for (Path file : outputFiles(output, images)) {
            String problem = outputProblem(file);
            if (problem != null) {
                throw new CommandLine.ParameterException(cl, "--output: cannot write " + file + ": " + problem);
            }
        }
        if (transformer == null && baseModel != null) {
            throw new CommandLine.ParameterException(
                    cl,
                    "--base-model needs --transformer FILE (the transformer's"
                            + " weights, e.g. a GGUF file); with neither, the demo model runs");
        }
        if (dequantizedCache != null && (vramBudget != null || offload == OffloadMode.sequential)) {
            throw new CommandLine.ParameterException(
                    cl,
                    "--dequantized-cache keeps expanded transformer weights on the"
                            + " GPU; --vram-budget and --offload sequential keep its blocks off it: give one");
        }
        if (vramBudget != null && offload != OffloadMode.none) {
            throw new CommandLine.ParameterException(
                    cl, "--vram-budget and --offload " + offload + " both choose where" + " the models live; give one");
        }
        if (transformer == null && t5Gguf != null) {
            throw new CommandLine.ParameterException(
                    cl, "--t5-gguf needs --transformer FILE (the demo model has its" + " own tiny T5)");
        }
        return text;
    }

    /**
     * Why {@code file} cannot be written, or null if it looks writable: it is a folder, a folder
     * on its path is a file, or the nearest existing folder is not writable. Checked before any
     * work; folders that do not exist yet are created when the image is written.
     */
    static @Nullable String outputProblem(Path file) {
        Path target = file.toAbsolutePath();
        if (Files.isDirectory(target)) {
            return "it is a folder (give a file name such as " + file.resolve(DEFAULT_OUTPUT) + ")";
        }
        Path existing = target.getParent();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return "no folder on its path exists";
        }
        if (!Files.isDirectory(existing)) {
            return existing + " is a file, not a folder";
        }
        if (!Files.isWritable(existing)) {
            return "the folder " + existing + " is not writable (permission denied)";
        }
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            return "it is not a regular file";
        }
        return null;
    }

    private static void checkRange(CommandLine cl, String option, @Nullable Integer value, int min, int max) {
        if (value != null && (value < min || value > max)) {
            throw new CommandLine.ParameterException(
                    cl, option + ": must be in " + min + ".." + max + ", got " + value);
        }
    }

    /** A local path, or a Hub file downloaded if missing; errors name the option. */
    private static Path fetch(HubFiles hub, DownloadListener listener, String option, String spec) throws IOException {
        try {
            return hub.resolvePath(spec, listener);
        } catch (HubException e) {
            throw new HubException(e.kind(), option + " " + spec + ": " + e.getMessage(), e);
        }
    }

    /** Downloads the files of a base model repository the run reads, unless {@code spec} is a folder. */
    private void fetchBaseModel(HubFiles hub, DownloadListener listener, String spec) throws IOException {
        try {
            if (Files.isDirectory(Path.of(spec))) {
                return;
            }
        } catch (java.nio.file.InvalidPathException e) {
            // not a path: maybe a repository id
        }
        int at = spec.lastIndexOf('@');
        String repo = at > 0 ? spec.substring(0, at) : spec;
        if (!HuggingFaceCache.isRepoId(repo)) {
            return; // FluxModelFolder names the problem
        }
        FluxModelFolder.Option[] open = t5Gguf != null
                ? new FluxModelFolder.Option[] {FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL}
                : new FluxModelFolder.Option[0];
        try {
            hub.resolve(repo, at > 0 ? spec.substring(at + 1) : null, FluxModelFolder.hubPatterns(open), listener);
        } catch (HubException e) {
            throw new HubException(
                    e.kind(),
                    "--base-model " + spec + " (no such folder; as a Hugging Face repository" + " id): "
                            + e.getMessage(),
                    e);
        }
    }

    /** {@code spec} if a file exists there or it is a Hugging Face file ({@code org/name[@rev]/path}). */
    private static String requireFileOrHub(String option, String spec) throws NoSuchFileException {
        boolean exists;
        try {
            exists = Files.exists(Path.of(spec));
        } catch (java.nio.file.InvalidPathException e) {
            exists = false;
        }
        if (!exists && HubPath.tryParse(spec).isEmpty()) {
            throw new NoSuchFileException(
                    spec, null, option + " file not found (nor a Hugging Face file" + " ORG/NAME[@REV]/FILE)");
        }
        return spec;
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

    private static void printSummary(
            PrintWriter out, GenerationResult r, Duration load, FluxDevice dev, ComputeDtype dtype) {
        Timings t = r.timings();
        String guidance =
                Double.isNaN(r.guidanceScale()) ? "" : String.format(Locale.ROOT, ", guidance %s", r.guidanceScale());
        out.printf(
                Locale.ROOT,
                "Seed %s, %d step%s%s, %s %s%n",
                seedText(r),
                r.steps(),
                r.steps() == 1 ? "" : "s",
                guidance,
                dev,
                dtype.name().toLowerCase(Locale.ROOT));
        out.printf(
                Locale.ROOT,
                "Timings: load %s | text encoding %s | denoising %s (%d x %s) | decode %s | generate %s%n",
                secs(load),
                secs(t.textEncoding()),
                secs(t.denoising()),
                t.steps().size(),
                secs(t.meanStep()),
                secs(t.decode()),
                secs(t.total()));
        if (!t.modelMoves().isZero()) {
            out.printf(Locale.ROOT, "Model moves (offload): %s%n", secs(t.modelMoves()));
        }
        CudaMemory.peak(dev)
                .ifPresent(p -> out.printf(
                        Locale.ROOT,
                        "Peak GPU memory: %.2f GiB allocated, %.2f GiB reserved%n",
                        p[0] / (double) (1L << 30),
                        p[1] / (double) (1L << 30)));
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

    /**
     * While open, a shutdown hook (Ctrl-C, SIGTERM) stops the command cleanly: it cancels the
     * generation, interrupts the working thread (which ends a file write or the demo model's
     * generation, whose temporary files are then removed) and waits up to {@link #GRACE} for the
     * command to finish, so that the process leaves no temporary file behind.
     */
    private static final class SignalStop implements AutoCloseable {
        static final Duration GRACE = Duration.ofSeconds(10);
        private final Thread hook;
        private final CountDownLatch finished = new CountDownLatch(1);

        SignalStop(Cancellation stop) {
            Thread worker = Thread.currentThread();
            hook = new Thread(
                    () -> {
                        stop.cancel("interrupted (signal)");
                        worker.interrupt();
                        try {
                            finished.await(GRACE.toMillis(), TimeUnit.MILLISECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    },
                    "flux-signal-stop");
            Runtime.getRuntime().addShutdownHook(hook);
        }

        @Override
        public void close() {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // shutting down already: the hook is running and now returns
            }
        }
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
                    ? new ConsoleProgressBarConsumer(stream, terminalWidth())
                    : new FinalLineConsumer(stream);
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
                bar.setExtraMessage(
                        String.format(Locale.ROOT, "%.2f s/step", p.stepTime().toNanos() / 1e9));
            }
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }

        static int terminalWidth() {
            try {
                String columns = System.getenv("COLUMNS");
                return columns != null ? Math.max(40, Integer.parseInt(columns.strip())) : 100;
            } catch (NumberFormatException e) {
                return 100;
            }
        }
    }

    /**
     * One progress bar for every download of a run (transformer, T5, base model), in bytes: it
     * appears with the first download, grows with each repository's plan, and ends when closed.
     */
    private static final class DownloadProgress implements DownloadListener, AutoCloseable {
        private final PrintWriter err;
        private final boolean enabled;
        private @Nullable ProgressBar bar;
        private long planned;
        private long done;

        DownloadProgress(PrintWriter err, boolean enabled) {
            this.err = err;
            this.enabled = enabled;
        }

        @Override
        public synchronized void planned(String repoId, int files, long bytes) {
            err.printf(
                    Locale.ROOT,
                    "Downloading %d file%s of %s (%s) into the Hugging Face cache%n",
                    files,
                    files == 1 ? "" : "s",
                    repoId,
                    size(bytes));
            err.flush();
            planned += bytes;
            if (!enabled) {
                return;
            }
            if (bar == null) {
                PrintStream stream = new PrintStream(new WriterOutputStream(err), true, StandardCharsets.UTF_8);
                ProgressBarConsumer consumer = System.console() != null
                        ? new ConsoleProgressBarConsumer(stream, Progress.terminalWidth())
                        : new FinalLineConsumer(stream);
                bar = new ProgressBarBuilder()
                        .setTaskName("Downloading")
                        .setInitialMax(planned)
                        .setStyle(ProgressBarStyle.ASCII)
                        .setUnit(" MB", 1_000_000)
                        .showSpeed()
                        .setUpdateIntervalMillis(250)
                        .setConsumer(consumer)
                        .build();
                bar.stepTo(done);
            } else {
                bar.maxHint(planned);
            }
        }

        @Override
        public synchronized void transferred(long bytes) {
            done += bytes;
            if (bar != null) {
                bar.stepTo(done);
            }
        }

        private static String size(long bytes) {
            return bytes >= 1_000_000_000
                    ? String.format(Locale.ROOT, "%.1f GB", bytes / 1e9)
                    : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        }

        @Override
        public synchronized void close() {
            if (bar != null) {
                bar.close();
                bar = null;
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
