package io.github.flux4j.pipeline;

import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.cuda.CudaKernels;
import io.github.flux4j.core.offload.BlockStreamer;
import io.github.flux4j.core.offload.StreamableBlocks;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.text.TokenIds;
import io.github.flux4j.core.torch.CancellationPoints;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.vae.RgbImage;
import io.github.flux4j.core.vae.VaeDecoder;
import io.github.flux4j.core.vae.VaeImageProcessor;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.pipeline.hub.DownloadListener;
import io.github.flux4j.pipeline.hub.HubException;
import io.github.flux4j.pipeline.hub.HubFiles;
import io.github.flux4j.pipeline.latents.FluxLatents;
import io.github.flux4j.pipeline.latents.LatentGeometry;
import io.github.flux4j.pipeline.latents.NoiseSeed;
import io.github.flux4j.pipeline.latents.PreparedLatents;
import io.github.flux4j.pipeline.model.FluxComponent;
import io.github.flux4j.pipeline.model.FluxModelFolder;
import io.github.flux4j.pipeline.model.HuggingFaceCache;
import io.github.flux4j.pipeline.model.ModelFolderException;
import io.github.flux4j.pipeline.offload.MemoryPlan;
import io.github.flux4j.pipeline.offload.MemoryPlanner;
import io.github.flux4j.pipeline.offload.MemorySizing;
import io.github.flux4j.pipeline.offload.ModelOffloader;
import io.github.flux4j.pipeline.offload.Placement;
import io.github.flux4j.pipeline.sampling.Denoiser;
import io.github.flux4j.pipeline.scheduler.FlowMatchEulerScheduler;
import io.github.flux4j.pipeline.scheduler.Schedule;
import io.github.flux4j.tokenizers.ClipTokenizer;
import io.github.flux4j.tokenizers.EncodedBatch;
import io.github.flux4j.tokenizers.T5Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FLUX.1 text-to-image: diffusers' {@code FluxPipeline.__call__}, step for step, on LibTorch, with
 * the transformer from a GGUF file (quantized or not) and the other components from a FLUX base
 * model folder in diffusers' layout.
 *
 * <pre>{@code
 * try (FluxPipeline flux = FluxPipeline.builder()
 *         .transformer(Path.of("flux1-dev-Q4_K_S.gguf"))
 *         .baseModel("black-forest-labs/FLUX.1-dev")        // a folder, or a repo in the HF cache
 *         .downloads(HubFiles.fromEnvironment())            // fetch what the cache lacks (only what is needed)
 *         .device(FluxDevice.cuda(0))
 *         .computeDtype(ComputeDtype.BF16)
 *         .offload(Offload.MODEL)
 *         .build()) {
 *     GenerationResult r = flux.generate("A cat holding a sign that says hello world",
 *             GenerationOptions.builder().seed(42).build());
 *     r.save(0, Path.of("cat.png"));
 * }
 * }</pre>
 *
 * <h2>What a generation computes</h2>
 * For the same seed and settings it computes what diffusers computes (see {@code docs/pipeline.md}):
 * <ol>
 *   <li>the prompts tokenized by CLIP (77 tokens) and T5 ({@code max_sequence_length}), truncated
 *       with diffusers' warnings; CLIP's pooled output and T5's last hidden state (no attention
 *       mask), repeated for {@code num_images_per_prompt}; text ids of zeros;</li>
 *   <li>the initial noise from {@code torch.Generator("cpu").manual_seed(seed)}, drawn in the
 *       pipeline dtype in the unpacked shape, then packed 2x2;</li>
 *   <li>the schedule: {@code linspace(1, 1/N, N)} sigmas shifted by {@code mu = calculate_shift(tokens)},
 *       timesteps {@code 1000 * sigma};</li>
 *   <li>per step, the transformer on {@code (latents, t / 1000 in the pipeline dtype, guidance as
 *       float32, pooled, T5 states, ids)} and the Euler step;</li>
 *   <li>unpacking, {@code latents / scaling_factor + shift_factor}, the VAE decoder and
 *       {@code VaeImageProcessor.postprocess} to 8-bit RGB.</li>
 * </ol>
 * In float32 the image equals diffusers' up to floating-point summation order; in bfloat16 it
 * also depends on the kernels (GPU, library versions) and, for the noise, on the PyTorch version
 * compared with ({@link io.github.flux4j.pipeline.latents.NoiseDraw}).
 *
 * <h2>Threads, memory, lifetime</h2>
 * {@link #generate} calls are serialised (one at a time per pipeline). A generation can be stopped
 * from another thread with a {@link Cancellation}, or by interrupting the generating thread; it
 * then throws {@link GenerationCancelledException} within one transformer block (one
 * text-encoder layer, one VAE stage), and the pipeline stays usable. Running out of device memory throws a
 * {@link FluxOutOfMemoryException} naming the stage, the sizes and what to try, after the call's
 * tensors were freed and the CUDA cache emptied: the pipeline stays usable then too. Every
 * temporary tensor is freed when a step or the call ends; the images are plain Java objects.
 * {@link #close()} frees every model;
 * the pipeline owns all of them, a transformer passed to the builder included.
 */
public final class FluxPipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FluxPipeline.class);
    /** FluxPipeline's {@code default_sample_size}: the default image side is this times the VAE scale. */
    public static final int DEFAULT_SAMPLE_SIZE = 128;
    /** The longest removed text a truncation warning quotes in full. */
    static final int MAX_QUOTED_CHARS = 200;

    /** diffusers' {@code AutoencoderKL.tile_overlap_factor}, for the memory plan's tiled decode. */
    private static final double VAE_TILE_OVERLAP = 0.25;

    private final FluxModelFolder folder;
    private final FluxDevice device;
    private final ComputeDtype dtype;
    private final Offload offload;
    private final ClipTokenizer clipTokenizer;
    private final T5Tokenizer t5Tokenizer;
    private final ClipTextModel clip;
    private final T5EncoderModel t5;
    private final FluxTransformer transformer;
    private final VaeDecoder vae;
    private final FlowMatchEulerScheduler scheduler;
    private final ModelOffloader offloader;
    private @Nullable MemoryPlan memoryPlan; // set by the builder
    private MemoryPlanner.@Nullable Sizes memorySizes;
    private @Nullable BlockStreamer streamer; // streams the transformer's blocks (SEQUENTIAL, budgets)
    private @Nullable BlockStreamer t5Streamer; // streams T5's blocks (T5 Placement.STREAMED)
    private boolean closed;

    private FluxPipeline(
            FluxModelFolder folder,
            FluxDevice device,
            ComputeDtype dtype,
            Offload offload,
            ClipTokenizer clipTokenizer,
            T5Tokenizer t5Tokenizer,
            ClipTextModel clip,
            T5EncoderModel t5,
            FluxTransformer transformer,
            VaeDecoder vae,
            ModelOffloader offloader) {
        this.folder = folder;
        this.device = device;
        this.dtype = dtype;
        this.offload = offload;
        this.clipTokenizer = clipTokenizer;
        this.t5Tokenizer = t5Tokenizer;
        this.clip = clip;
        this.t5 = t5;
        this.transformer = transformer;
        this.vae = vae;
        this.scheduler = new FlowMatchEulerScheduler(folder.schedulerConfig());
        this.offloader = offloader;
    }

    /** A builder; {@link Builder#transformer} and {@link Builder#baseModel} are required. */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------------------ generation

    /**
     * Generates images for one prompt.
     *
     * @see #generate(List, GenerationOptions)
     */
    public GenerationResult generate(String prompt, GenerationOptions options) {
        return generate(List.of(Objects.requireNonNull(prompt, "prompt")), options);
    }

    /**
     * Generates {@code options.numImagesPerPrompt()} images for each prompt, in one batch, as
     * diffusers' {@code pipe(prompt=prompts, ...)}.
     *
     * @return the images (those of one prompt next to each other), the seed used, the warnings
     *         logged for this call and the timings
     * @throws IllegalArgumentException if {@code prompts} is empty or holds null, or per-image
     *                                  seeds do not number the batch
     * @throws GenerationCancelledException if the options' {@link Cancellation} was cancelled or
     *                                  the calling thread was interrupted (before or during the
     *                                  call; its interrupt status stays set)
     * @throws FluxOutOfMemoryException if the device ran out of memory (naming the stage, the sizes and
     *                                  what to try); the pipeline stays usable
     * @throws IllegalStateException    if the pipeline is closed
     */
    public synchronized GenerationResult generate(List<String> prompts, GenerationOptions options) {
        OutOfMemoryGuard oom = new OutOfMemoryGuard();
        try {
            return generate(prompts, options, oom);
        } catch (RuntimeException e) {
            // Here the call's scopes are closed and the models are back where they live.
            throw oom.translate(e);
        }
    }

    @SuppressWarnings("try") // the guard and the scopes are opened for their effect only (docs/memory.md)
    private GenerationResult generate(List<String> prompts, GenerationOptions options, OutOfMemoryGuard oom) {
        Objects.requireNonNull(options, "options");
        if (closed) {
            throw new IllegalStateException("FluxPipeline is closed");
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("prompts: give at least one prompt");
        }
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i) == null) {
                throw new IllegalArgumentException("prompts: prompt " + i + " is null");
            }
        }
        List<String> ps = List.copyOf(prompts);
        long start = System.nanoTime();
        long moves0 = offloader.moveTime().toNanos();
        Cancellation cancel = options.cancellation() == null ? new Cancellation() : options.cancellation();
        PipelineTrace trace = options.trace();
        List<String> warnings = new ArrayList<>();

        // The call's settings, with FluxPipeline's defaults.
        int perPrompt = options.numImagesPerPrompt();
        int batch = Math.multiplyExact(ps.size(), perPrompt);
        int scale = folder.vaeScaleFactor();
        int height = options.height().orElse(DEFAULT_SAMPLE_SIZE * scale);
        int width = options.width().orElse(DEFAULT_SAMPLE_SIZE * scale);
        LatentGeometry geometry = new LatentGeometry(height, width, scale);
        if (geometry.isRounded()) {
            warn(
                    warnings,
                    "`height` and `width` have to be divisible by " + geometry.multiple() + " but are " + height
                            + " and " + width + ". Dimensions will be resized accordingly (to " + geometry.imageHeight()
                            + "x"
                            + geometry.imageWidth() + ", height x width)");
        }
        boolean guided = transformer.config().guidanceEmbed();
        double guidanceScale = options.guidanceScale().orElse(GenerationOptions.DEFAULT_GUIDANCE_SCALE);
        if (!guided) {
            if (options.guidanceScale().isPresent()) {
                warn(
                        warnings,
                        "guidance scale " + guidanceScale + " ignored: the transformer has no guidance"
                                + " embedding (guidance_in; e.g. FLUX.1-schnell)");
            }
            guidanceScale = Double.NaN;
        }
        int steps = options.steps().orElse(defaultSteps());
        int maxSeq = options.maxSequenceLength();
        NoiseSeed seed = options.noiseSeed(batch);
        oom.request(new FluxOutOfMemoryException.Request(
                geometry.imageWidth(),
                geometry.imageHeight(),
                ps.size(),
                perPrompt,
                steps,
                maxSeq,
                options.tiledDecode(),
                device,
                dtype,
                offload));

        checkStop(cancel, "before it started");
        long textNanos;
        List<Duration> stepTimes = new ArrayList<>();
        long decodeNanos;
        List<RgbImage> images;
        // The models check between their blocks and layers too (CancellationPoints): on a CPU one
        // FLUX.1 step takes minutes, so a check per step alone would not stop it promptly.
        String[] stage = {"in prompt encoding"};
        CancellationPoints.Check inModels = where -> checkStop(cancel, stage[0] + ", " + where);
        try (CancellationPoints.Installed points = CancellationPoints.install(inModels);
                NoGradGuard noGrad = Torch.noGrad();
                PointerScope call = new PointerScope()) {
            // 1. encode_prompt: CLIP pooled output, T5 hidden states, zero text ids.
            long t0 = System.nanoTime();
            Prompts text = encodePrompts(ps, perPrompt, maxSeq, cancel, oom, trace, warnings);
            textNanos = System.nanoTime() - t0;

            // 2. prepare_latents, the schedule and the guidance vector.
            oom.enter(FluxOutOfMemoryException.Stage.PREPARING_LATENTS);
            PreparedLatents prepared = FluxLatents.prepare(geometry, batch, dtype.scalarType(), device.toTorch(), seed);
            trace.record("latents.initial", prepared.latents());
            trace.record("img_ids", prepared.imageIds());
            Schedule schedule = scheduler.fluxSchedule(steps, geometry.imageSeqLen());
            Tensor guidance = guided ? guidanceVector(batch, guidanceScale, trace) : null;
            oom.step(0); // moving the transformer in is part of the first step's memory
            offloader.use(transformer);

            // 3. The denoising loop (one scope per step; only the new latents survive it).
            Denoiser.StepListener progress = new Denoiser.StepListener() {
                @Override
                public void beforeStep(int i, int total) {
                    checkStop(cancel, "before denoising step " + (i + 1) + " of " + total);
                    stage[0] = "in denoising step " + (i + 1) + " of " + total;
                    oom.step(i);
                }

                @Override
                public void afterStep(int i, int total, Duration time) {
                    stepTimes.add(time);
                    ProgressListener listener = options.progressListener();
                    if (listener != null) {
                        listener.onStep(new StepProgress(
                                i, total, schedule.timestep(i), time, Duration.ofNanos(System.nanoTime() - start)));
                    }
                }
            };
            Denoiser.Conditioning conditioning = new Denoiser.Conditioning(
                    text.embeds(), text.textIds(), text.pooled(), prepared.imageIds(), guidance);
            Tensor latents = new Denoiser(transformer, device, dtype)
                    .denoise(prepared.latents(), conditioning, schedule, trace, progress);
            checkStop(cancel, "before decoding");
            stage[0] = "in decoding";

            // 4. Unpack, unscale, decode, postprocess.
            long d0 = System.nanoTime();
            images = decodeImages(latents, geometry, options.tiledDecode(), oom, trace);
            decodeNanos = System.nanoTime() - d0;
        } finally {
            // maybe_free_model_hooks(): every model back on the CPU, also after a failure or a
            // cancellation, so that the next generation starts from the same state.
            offloader.offloadAll();
        }
        Timings timings = new Timings(
                Duration.ofNanos(textNanos),
                stepTimes,
                Duration.ofNanos(decodeNanos),
                Duration.ofNanos(offloader.moveTime().toNanos() - moves0),
                Duration.ofNanos(System.nanoTime() - start));
        LOG.debug(
                "generated {} image(s) of {}x{}: {}",
                images.size(),
                geometry.imageHeight(),
                geometry.imageWidth(),
                timings);
        return new GenerationResult(
                images,
                ps,
                seed,
                geometry.imageWidth(),
                geometry.imageHeight(),
                steps,
                guidanceScale,
                warnings,
                timings);
    }

    /** The text encoders' outputs for a batch, repeated for the images per prompt. */
    private record Prompts(Tensor pooled, Tensor embeds, Tensor textIds) {}

    /**
     * diffusers' {@code encode_prompt}: CLIP's pooled output, T5's hidden states and the zero
     * text ids, each repeated {@code perPrompt} times (the images of a prompt next to each other),
     * in the caller's scope.
     */
    private Prompts encodePrompts(
            List<String> ps,
            int perPrompt,
            int maxSeq,
            Cancellation cancel,
            OutOfMemoryGuard oom,
            PipelineTrace trace,
            List<String> warnings) {
        Device dev = device.toTorch();
        ScalarType st = dtype.scalarType();
        int batch = Math.multiplyExact(ps.size(), perPrompt);
        oom.enter(FluxOutOfMemoryException.Stage.TEXT_ENCODING_CLIP);
        offloader.use(clip);
        int clipLength = clipTokenizer.modelMaxLength();
        EncodedBatch clipIds = clipTokenizer.encodePadded(ps, clipLength);
        if (clipIds.anyTruncated()) {
            warn(
                    warnings,
                    "The following part of your input was truncated because CLIP can only handle sequences" + " up to "
                            + clipLength + " tokens: " + abbreviated(clipIds.removedTexts()));
        }
        Tensor clipInput = idTensor(clipIds);
        trace.record("clip_input_ids", clipInput);
        Tensor pooled = clip.forward(clipInput).pooledOutput().to(dev, st);
        // prompt_embeds.repeat(1, n).view(B * n, -1): the images of a prompt next to each other
        pooled = pooled.repeat(1, perPrompt).view(batch, -1);
        trace.record("pooled_prompt_embeds", pooled);
        checkStop(cancel, "after the CLIP text encoder");

        oom.enter(FluxOutOfMemoryException.Stage.TEXT_ENCODING_T5);
        offloader.use(t5);
        EncodedBatch t5Ids = t5Tokenizer.encodePadded(ps, maxSeq);
        if (t5Ids.anyTruncated()) {
            warn(
                    warnings,
                    "The following part of your input was truncated because `max_sequence_length` is set to " + " "
                            + maxSeq + " tokens: " + abbreviated(t5Ids.removedTexts()));
        }
        Tensor t5Input = idTensor(t5Ids);
        trace.record("t5_input_ids", t5Input);
        Tensor promptEmbeds;
        try {
            promptEmbeds = t5.forward(t5Input).to(dev, st);
        } finally {
            freeT5Arenas();
        }
        long seqLen = promptEmbeds.size(1);
        promptEmbeds = promptEmbeds.repeat(1, perPrompt, 1).view(batch, seqLen, -1);
        trace.record("prompt_embeds", promptEmbeds);
        Tensor textIds = FluxLatents.textIds(Math.toIntExact(seqLen), st, dev);
        trace.record("text_ids", textIds);
        syncDevice();
        checkStop(cancel, "after the T5 text encoder");
        return new Prompts(pooled, promptEmbeds, textIds);
    }

    /**
     * A streamed T5 runs once per generation: its arenas leave the device after its stage instead
     * of staying through denoising (they are allocated again by the next T5 forward).
     */
    private void freeT5Arenas() {
        BlockStreamer s = t5Streamer;
        if (s != null) {
            s.freeArenas();
        }
    }

    /** {@code torch.full([1], guidance_scale, dtype=float32).expand(B)}: float32; the model casts it. */
    private Tensor guidanceVector(int batch, double guidanceScale, PipelineTrace trace) {
        Tensor guidance = torch.full(
                new long[] {batch},
                new Scalar(guidanceScale),
                new TensorOptions(ScalarType.Float).device(new DeviceOptional(device.toTorch())));
        trace.record("guidance", guidance);
        return guidance;
    }

    /** Unpacks, unscales and decodes the final latents, then postprocesses them to 8-bit RGB. */
    private List<RgbImage> decodeImages(
            Tensor latents, LatentGeometry geometry, boolean tiled, OutOfMemoryGuard oom, PipelineTrace trace) {
        oom.enter(FluxOutOfMemoryException.Stage.VAE_DECODING);
        offloader.use(vae);
        Tensor unpacked = FluxLatents.unpack(latents, geometry);
        Tensor decoded = decode(unpacked, tiled);
        trace.record("image.decoded", decoded);
        List<RgbImage> images = VaeImageProcessor.postprocess(decoded);
        syncDevice();
        return images;
    }

    /**
     * Throws {@link GenerationCancelledException} if {@code cancel} is cancelled or this thread is
     * interrupted. An interrupt counts as a cancellation (the usual way to stop work on an
     * executor); the thread's interrupt status is left set, for the caller to see.
     */
    private static void checkStop(Cancellation cancel, String where) {
        cancel.throwIfCancelled(where);
        if (Thread.currentThread().isInterrupted()) {
            throw new GenerationCancelledException(
                    "generation cancelled " + where + ": the generating thread was interrupted");
        }
    }

    /**
     * The removed parts as a list, each cut to {@value #MAX_QUOTED_CHARS} characters: a 10 KB prompt
     * made a 9 KB warning (diffusers quotes everything).
     */
    static String abbreviated(List<String> removed) {
        List<String> out = new ArrayList<>(removed.size());
        for (String r : removed) {
            if (r.length() <= MAX_QUOTED_CHARS) {
                out.add(r);
            } else {
                int cut = MAX_QUOTED_CHARS;
                if (Character.isHighSurrogate(r.charAt(cut - 1))) {
                    cut--; // never split a surrogate pair
                }
                out.add(r.substring(0, cut) + "... (" + (r.length() - cut) + " more characters)");
            }
        }
        return out.toString();
    }

    /** The VAE decode, in the memory plan's tiles when it asks for them. */
    private Tensor decode(Tensor unpacked, boolean tiled) {
        int tile = memoryPlan == null ? 0 : memoryPlan.vaeTileSize();
        if (tile <= 0) {
            return vae.decodeLatents(unpacked, tiled);
        }
        return Scopes.scoped(() -> vae.decodeTiled(vae.unscale(unpacked), tile, VAE_TILE_OVERLAP));
    }

    private static void warn(List<String> warnings, String message) {
        LOG.warn(message);
        warnings.add(message);
    }

    private static Tensor idTensor(EncodedBatch ids) {
        int[][] rows = new int[ids.size()][];
        for (int r = 0; r < rows.length; r++) {
            rows[r] = ids.inputIds(r);
        }
        return TokenIds.batch(rows);
    }

    /** Waits for the device, so that stage timings and cancellation points are real on CUDA. */
    private void syncDevice() {
        if (device.isCuda()) {
            torch_cuda.device_synchronize();
        }
    }

    // ------------------------------------------------------------------------------ accessors

    /** The number of steps used when the options set none: 28 (dev), or 4 without guidance embedding (schnell). */
    public int defaultSteps() {
        return transformer.config().guidanceEmbed()
                ? GenerationOptions.DEFAULT_STEPS
                : GenerationOptions.DEFAULT_STEPS_SCHNELL;
    }

    /** Whether the transformer takes a guidance scale (FLUX.1-dev: yes; schnell: no). */
    public boolean guidanceDistilled() {
        return transformer.config().guidanceEmbed();
    }

    /** The default image height and width: {@value #DEFAULT_SAMPLE_SIZE} times the VAE scale factor (1024). */
    public int defaultImageSize() {
        return DEFAULT_SAMPLE_SIZE * folder.vaeScaleFactor();
    }

    /** The device the models run on. */
    public FluxDevice device() {
        return device;
    }

    /** The dtype every model computes in. */
    public ComputeDtype computeDtype() {
        return dtype;
    }

    /** The offloading mode. */
    public Offload offload() {
        return offload;
    }

    /**
     * Where each model lives and which transformer blocks stream: the plan of the
     * {@link Builder#offload explicit mode} or of the {@link Builder#vramBudget VRAM budget}, with
     * its memory estimates. {@link MemoryPlan#describe} prints it.
     */
    public MemoryPlan memoryPlan() {
        return Objects.requireNonNull(memoryPlan);
    }

    /** The memory plan as the pipeline logged it when it was built (see docs/memory.md). */
    public String describeMemoryPlan() {
        return memoryPlan().describe(Objects.requireNonNull(memorySizes)); // set with the plan
    }

    /** The base model folder the text encoders, tokenizers, VAE and scheduler came from. */
    public FluxModelFolder modelFolder() {
        return folder;
    }

    /** The transformer's configuration. */
    public FluxConfig transformerConfig() {
        return transformer.config();
    }

    /** Frees every model. Waits for a running generation to end; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<AutoCloseable> all = new ArrayList<>();
        if (streamer != null) {
            all.add(streamer); // before the transformer: it re-points the transformer's tensors
        }
        if (t5Streamer != null) {
            all.add(t5Streamer); // before T5, for the same reason
        }
        all.addAll(List.of(transformer, t5, clip, vae));
        closeAll(all, null);
    }

    @Override
    public String toString() {
        return "FluxPipeline[" + transformer + ", base " + folder.source() + ", " + device + ", " + dtype + ", offload "
                + offload + "]";
    }

    private static void closeAll(List<? extends AutoCloseable> models, @Nullable Throwable failure) {
        RuntimeException first = null;
        for (AutoCloseable m : models) {
            try {
                m.close();
            } catch (Exception e) {
                if (failure != null) {
                    failure.addSuppressed(e);
                } else if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    // ------------------------------------------------------------------------------ builder

    /**
     * Configures and loads a {@link FluxPipeline}. Required: the transformer and the base model;
     * everything else has a default (device: {@code cuda:0} when CUDA is usable, else the CPU;
     * bfloat16; no offloading; T5 from the base model; diffusers' GGUF dequantization).
     */
    public static final class Builder {
        private @Nullable FluxTransformer transformerModel;
        private @Nullable Path transformerPath;
        private @Nullable String transformerSpec;
        private @Nullable FluxModelFolder folder;
        private @Nullable String baseModelSpec;
        private @Nullable Path baseModelPath;
        private @Nullable FluxDevice device;
        private ComputeDtype dtype = ComputeDtype.BF16;
        private Offload offload = Offload.NONE;
        private boolean offloadGiven;
        private @Nullable Long vramBudget;
        private long dequantizedCacheBytes;
        private @Nullable Path t5Gguf;
        private @Nullable String t5GgufSpec;
        private @Nullable HubFiles hub;
        private DownloadListener downloadListener = DownloadListener.NONE;
        private DequantArithmetic transformerArithmetic = DequantArithmetic.FLOAT16_LIKE_DIFFUSERS;
        private DequantArithmetic textEncoderArithmetic = DequantArithmetic.EXACT_FLOAT32;
        private ClipTokenizer.Flavor clipFlavor = ClipTokenizer.Flavor.FAST;

        private Builder() {}

        /**
         * The transformer's weights, loaded by {@link #build()} on the pipeline's device (the CPU
         * with {@link Offload#MODEL}) in its compute dtype: a GGUF file (city96's FLUX.1-dev/schnell
         * conversions, any supported quantization), a BFL safetensors file or a diffusers
         * {@code transformer} folder ({@link FluxTransformer#load(Path, LoadOptions)}).
         * Replaces a transformer given as a model.
         */
        public Builder transformer(Path weights) {
            this.transformerPath = Objects.requireNonNull(weights, "transformer");
            this.transformerSpec = null;
            this.transformerModel = null;
            return this;
        }

        /**
         * {@link #transformer(Path)} from a local path or a file (or folder) of a Hugging Face
         * repository, {@code org/name[@revision]/path} ({@link io.github.flux4j.pipeline.hub.HubPath}),
         * e.g. {@code city96/FLUX.1-dev-gguf/flux1-dev-Q8_0.gguf}: downloaded by {@link #build()} if
         * {@link #downloads} allows it, else taken from the local cache. A path that exists wins.
         */
        public Builder transformer(String pathOrHubFile) {
            this.transformerSpec = Objects.requireNonNull(pathOrHubFile, "transformer");
            this.transformerPath = null;
            this.transformerModel = null;
            return this;
        }

        /**
         * A loaded transformer. <b>The pipeline takes ownership</b>: it closes the model in
         * {@link FluxPipeline#close()}, and also when {@link #build()} fails. It must compute in the
         * pipeline's dtype; it is moved to the pipeline's device (or to the CPU with
         * {@link Offload#MODEL}) if it is elsewhere. It keeps the dequantization arithmetic it was
         * loaded with ({@link #transformerArithmetic} applies to a path only; load with
         * {@link DequantArithmetic#FLOAT16_LIKE_DIFFUSERS} to reproduce diffusers). Replaces a
         * transformer given as a path.
         */
        public Builder transformer(FluxTransformer model) {
            this.transformerModel = Objects.requireNonNull(model, "transformer");
            this.transformerPath = null;
            this.transformerSpec = null;
            return this;
        }

        /** The base model folder (diffusers' layout; see {@link FluxModelFolder}). */
        public Builder baseModel(Path folder) {
            clearBase();
            this.baseModelPath = Objects.requireNonNull(folder, "baseModel");
            return this;
        }

        /**
         * The base model: a folder path, or a Hugging Face repository id ({@code org/name}, optionally
         * {@code @revision}) in the local cache ({@link FluxModelFolder#resolve(String)}). With
         * {@link #downloads}, the files the pipeline reads
         * ({@link FluxModelFolder#hubPatterns}: not {@code transformer/}, nor {@code text_encoder_2/}
         * with a {@link #t5Gguf T5 GGUF}) are downloaded first if the cache lacks them.
         */
        public Builder baseModel(String pathOrRepoId) {
            clearBase();
            this.baseModelSpec = Objects.requireNonNull(pathOrRepoId, "baseModel");
            return this;
        }

        /** An opened base model folder. */
        public Builder baseModel(FluxModelFolder folder) {
            clearBase();
            this.folder = Objects.requireNonNull(folder, "baseModel");
            return this;
        }

        private void clearBase() {
            folder = null;
            baseModelSpec = null;
            baseModelPath = null;
        }

        /** Where the models run (default: {@code cuda:0} if CUDA is usable, else the CPU). */
        public Builder device(FluxDevice device) {
            this.device = Objects.requireNonNull(device, "device");
            return this;
        }

        /**
         * The dtype every model computes in: {@link ComputeDtype#BF16} (default, what diffusers runs
         * FLUX in), {@link ComputeDtype#F32} (references; twice the memory), {@link ComputeDtype#F16}
         * (overflows in T5-XXL: not recommended).
         */
        public Builder computeDtype(ComputeDtype dtype) {
            this.dtype = Objects.requireNonNull(dtype, "computeDtype");
            return this;
        }

        /** Model offloading ({@link Offload}; default {@link Offload#NONE}). */
        public Builder offload(Offload offload) {
            this.offload = Objects.requireNonNull(offload, "offload");
            this.offloadGiven = true;
            return this;
        }

        /**
         * Plans memory for a GPU of {@code bytes} of usable memory instead of an explicit
         * {@link #offload} mode: per component (CLIP, T5, the VAE: resident or offloaded; T5 also on
         * the CPU) and per transformer block (resident or streamed), and the VAE's tiling, the
         * fastest plan whose estimated peak stays within the budget, for the default image size
         * and step count ({@link MemoryPlanner}). The pipeline logs the plan; see
         * {@link FluxPipeline#memoryPlan()}. The budget counts LibTorch's allocations (what
         * {@code torch.cuda.max_memory_allocated()} reports), not the CUDA context's ~0.5 GB.
         *
         * @param bytes the budget; must be positive
         * @throws IllegalArgumentException if {@code bytes} is not positive
         */
        public Builder vramBudget(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("vramBudget must be positive, got " + bytes + " bytes");
            }
            this.vramBudget = bytes;
            return this;
        }

        /**
         * Device memory for expanded GGUF weights that the transformer keeps between forwards
         * instead of expanding them on every step (0, the default: none;
         * {@link LoadOptions#dequantizedCacheBytes()}): on a card with room to spare, the
         * speed of dense weights from a GGUF file. Weights are cached in load order until the
         * budget is used up; the images are the same bits either way. Not with
         * {@link Offload#SEQUENTIAL} or a {@link #vramBudget} (they keep the transformer off the
         * device), which {@link #build()} refuses.
         *
         * @throws IllegalArgumentException if {@code bytes} is negative
         */
        public Builder dequantizedCacheBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("dequantizedCacheBytes must be >= 0, got " + bytes + " bytes");
            }
            this.dequantizedCacheBytes = bytes;
            return this;
        }

        /**
         * A T5 encoder in GGUF (e.g. city96's {@code t5-v1_1-xxl-encoder-Q8_0.gguf}) instead of the
         * base model's {@code text_encoder_2}; its blocks stay quantized on the device. null for
         * the base model's. With one, the base model needs no {@code text_encoder_2/} weights (it
         * is opened with {@link FluxModelFolder.Option#T5_WEIGHTS_OPTIONAL}; {@code tokenizer_2/}
         * is still required).
         */
        public Builder t5Gguf(@Nullable Path file) {
            this.t5Gguf = file;
            this.t5GgufSpec = null;
            return this;
        }

        /**
         * {@link #t5Gguf(Path)} from a local path or a Hugging Face repository file
         * ({@code org/name[@revision]/path}, e.g.
         * {@code city96/t5-v1_1-xxl-encoder-gguf/t5-v1_1-xxl-encoder-Q8_0.gguf}), resolved as
         * {@link #transformer(String)}.
         */
        public Builder t5Gguf(String pathOrHubFile) {
            this.t5GgufSpec = Objects.requireNonNull(pathOrHubFile, "t5Gguf");
            this.t5Gguf = null;
            return this;
        }

        /**
         * Lets {@link #build()} download what the local Hugging Face cache lacks through {@code hub}
         * (e.g. {@link HubFiles#fromEnvironment()}: {@code HF_TOKEN}, {@code HF_ENDPOINT},
         * {@code HF_HUB_OFFLINE}...), into {@code hub}'s cache: the base model's needed files and
         * Hub files given to {@link #transformer(String)} and {@link #t5Gguf(String)}. null (the
         * default): nothing is downloaded; repository ids are looked up in
         * {@link HuggingFaceCache#fromEnvironment()}.
         */
        public Builder downloads(@Nullable HubFiles hub) {
            return downloads(hub, DownloadListener.NONE);
        }

        /** {@link #downloads(HubFiles)}, reporting download progress to {@code listener}. */
        public Builder downloads(@Nullable HubFiles hub, DownloadListener listener) {
            this.hub = hub;
            this.downloadListener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * How the transformer's GGUF blocks are expanded per forward: like diffusers
         * ({@link DequantArithmetic#FLOAT16_LIKE_DIFFUSERS}, the default: its weights bit for bit)
         * or exactly ({@link DequantArithmetic#EXACT_FLOAT32}, gguf-py's values).
         */
        public Builder transformerArithmetic(DequantArithmetic arithmetic) {
            this.transformerArithmetic = Objects.requireNonNull(arithmetic, "transformerArithmetic");
            return this;
        }

        /**
         * How a GGUF T5's blocks are expanded: exactly by default, as transformers' GGUF loading
         * does (it dequantizes with gguf-py in float32).
         */
        public Builder textEncoderArithmetic(DequantArithmetic arithmetic) {
            this.textEncoderArithmetic = Objects.requireNonNull(arithmetic, "textEncoderArithmetic");
            return this;
        }

        /**
         * Which transformers CLIP tokenizer to follow ({@link ClipTokenizer.Flavor#FAST}, default:
         * transformers 5 and {@code CLIPTokenizerFast}); they differ only on unusual text.
         */
        public Builder clipTokenizerFlavor(ClipTokenizer.Flavor flavor) {
            this.clipFlavor = Objects.requireNonNull(flavor, "clipTokenizerFlavor");
            return this;
        }

        /**
         * Opens the base model, loads the tokenizers and every model, and checks that they fit
         * together. On failure everything loaded so far is freed (a transformer given as a model
         * too). A transformer given as a model is used by one build only: call
         * {@link #transformer} again before building another pipeline.
         *
         * @throws IllegalStateException if the transformer or the base model is missing, the device
         *                               is not usable, or the components do not fit together
         *                               (naming both)
         * @throws IllegalArgumentException if a given transformer computes in another dtype
         * @throws io.github.flux4j.pipeline.model.ModelFolderException if the base model folder is
         *                               incomplete (every problem listed)
         * @throws io.github.flux4j.core.weights.source.WeightException if a model's weights do not fit
         *                               (every problem listed)
         * @throws io.github.flux4j.tokenizers.TokenizerFormatException if a tokenizer file
         *                               is malformed
         * @throws io.github.flux4j.FluxIoException if a file cannot be read (or, with
         *                               {@link #downloads}, the Hub cache cannot be written)
         */
        public FluxPipeline build() {
            List<AutoCloseable> loaded = new ArrayList<>();
            if (transformerModel != null) {
                loaded.add(transformerModel);
            }
            try {
                return load(loaded);
            } catch (RuntimeException | Error e) {
                closeAll(loaded, e);
                throw e;
            } finally {
                // A given model now belongs to the pipeline (or is closed): a second build() must
                // not hand it to another pipeline.
                transformerModel = null;
            }
        }

        private FluxPipeline load(List<AutoCloseable> loaded) {
            if (transformerModel == null && transformerPath == null && transformerSpec == null) {
                throw new IllegalStateException("FluxPipeline: no transformer; call transformer(Path) with a GGUF"
                        + " file (or BFL safetensors / diffusers folder), or transformer(FluxTransformer)");
            }
            if (dequantizedCacheBytes > 0 && (vramBudget != null || offload == Offload.SEQUENTIAL)) {
                throw new IllegalArgumentException("dequantizedCacheBytes (" + dequantizedCacheBytes + " bytes) keeps"
                        + " expanded transformer weights on the device, but "
                        + (vramBudget != null ? "vramBudget" : "Offload.SEQUENTIAL")
                        + " keeps the transformer's blocks off it: use one or the other");
            }
            if (folder == null && baseModelSpec == null && baseModelPath == null) {
                throw new IllegalStateException("FluxPipeline: no base model; call baseModel(...) with a FLUX.1"
                        + " folder in diffusers' layout or a Hugging Face repo id (text encoders,"
                        + " tokenizers, VAE and scheduler come from it)");
            }
            FluxDevice dev =
                    device != null ? device : FluxDevice.cudaAvailable() ? FluxDevice.cuda(0) : FluxDevice.cpu();
            if (dev.isCuda() && !FluxDevice.cudaAvailable()) {
                throw new IllegalStateException("FluxPipeline: device " + dev + " is not usable: "
                        + FluxDevice.cudaUnavailableReason().orElse("CUDA is not available") + "; use FluxDevice.cpu()"
                        + " or the -gpu natives");
            }
            // Every download before anything loads: a missing file fails fast, not after minutes of loading.
            FluxModelFolder.Option[] open = t5Gguf != null || t5GgufSpec != null
                    ? new FluxModelFolder.Option[] {FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL}
                    : new FluxModelFolder.Option[0];
            HubFiles files = hub != null
                    ? hub
                    : HubFiles.builder()
                            .cache(HuggingFaceCache.fromEnvironment())
                            .offline(true)
                            .build();
            Path transformerFile = transformerPath;
            if (transformerModel == null && transformerSpec != null) {
                transformerFile = hubPath(files, "transformer", transformerSpec);
            }
            Path t5File = t5GgufSpec != null ? hubPath(files, "T5 GGUF", t5GgufSpec) : t5Gguf;
            FluxModelFolder base = folder != null
                    ? folder
                    : baseModelPath != null
                            ? FluxModelFolder.open(baseModelPath, open)
                            : openBase(Objects.requireNonNull(baseModelSpec), files, open);
            Torch.init();
            if (transformerModel != null && transformerModel.dtype() != dtype) {
                throw new IllegalArgumentException(
                        "FluxPipeline: the transformer computes in " + transformerModel.dtype()
                                + " but the pipeline's compute dtype is " + dtype + "; load it with that dtype or set"
                                + " computeDtype(" + transformerModel.dtype() + ")");
            }
            if (t5File == null && base.weightFiles(FluxComponent.TEXT_ENCODER_2).isEmpty()) {
                throw new ModelFolderException(base.source() + ": text_encoder_2/ has no T5 weights (the folder was"
                        + " opened with T5_WEIGHTS_OPTIONAL); give the pipeline a T5 GGUF file with t5Gguf(...)");
            }
            ClipTokenizer clipTok = ClipTokenizer.fromDirectory(base.componentDir(FluxComponent.TOKENIZER), clipFlavor);
            T5Tokenizer t5Tok = T5Tokenizer.fromDirectory(base.componentDir(FluxComponent.TOKENIZER_2));

            if (vramBudget != null && offloadGiven && offload != Offload.NONE) {
                throw new IllegalStateException("FluxPipeline: both offload(" + offload + ") and vramBudget(...) were"
                        + " given; choose one (the budget's planner picks the offloading itself)");
            }
            // With offloading or a budget the models are loaded on the CPU, where they live between
            // uses, and the plan moves them.
            boolean planned = vramBudget != null || offload != Offload.NONE;
            FluxDevice loadDevice = planned ? FluxDevice.cpu() : dev;
            if (dev.isCuda() && transformerModel == null && CudaKernels.enabledByProperty()) {
                // Compiled (or read from the cache) before the weights fill host RAM, rather than
                // at the first step: NVRTC's working memory is then never on top of them, and what
                // it freed goes back to the system here.
                CudaKernels.forDevice(dev.index());
                NativeMemory.trim();
            }
            LoadOptions text = new LoadOptions(loadDevice, dtype, textEncoderArithmetic, true);
            ClipTextModel clip = ClipTextModel.load(base.componentDir(FluxComponent.TEXT_ENCODER), text);
            loaded.add(clip);
            T5EncoderModel t5 = T5EncoderModel.load(
                    t5File != null ? t5File : base.componentDir(FluxComponent.TEXT_ENCODER_2), text);
            loaded.add(t5);
            VaeDecoder vae = VaeDecoder.load(
                    base.componentDir(FluxComponent.VAE),
                    LoadOptions.defaults().withDevice(loadDevice).withDtype(dtype));
            loaded.add(vae);
            FluxTransformer transformer = transformerModel;
            if (transformer == null) {
                transformer = FluxTransformer.load(
                        Objects.requireNonNull(transformerFile),
                        new LoadOptions(loadDevice, dtype, transformerArithmetic, true)
                                .withDequantizedCacheBytes(dequantizedCacheBytes));
                loaded.add(transformer);
            }
            checkFit(transformer, clip, t5, vae, base, t5File);

            MemoryPlanner.Sizes sizes = MemorySizing.sizes(clip, t5, transformer, vae);
            MemoryPlanner.Workload work = MemorySizing.workload(
                    transformer,
                    t5,
                    dtype,
                    DEFAULT_SAMPLE_SIZE * base.vaeScaleFactor(),
                    transformer.config().guidanceEmbed()
                            ? GenerationOptions.DEFAULT_STEPS
                            : GenerationOptions.DEFAULT_STEPS_SCHNELL);
            MemoryPlan plan = vramBudget != null
                    ? MemoryPlanner.plan(vramBudget, sizes, work)
                    : MemoryPlanner.forMode(offload, sizes, work);
            BlockStreamer streamer = null;
            if (!plan.streamedBlocks().isEmpty()) {
                // before the model moves anywhere: the streamed blocks leave it for pinned host buffers
                streamer = BlockStreamer.attach(StreamableBlocks.of(transformer), dev, plan.streamedBlocks());
                loaded.add(0, streamer); // closed first if the build fails
            }
            BlockStreamer t5Streamer = null;
            if (plan.t5() == Placement.STREAMED) {
                TreeSet<Integer> all = new TreeSet<>();
                for (int b = 0; b < StreamableBlocks.of(t5).blockCount(); b++) {
                    all.add(b);
                }
                t5Streamer = BlockStreamer.attach(StreamableBlocks.of(t5), dev, all);
                loaded.add(0, t5Streamer);
                t5Streamer.freeArenas(); // allocated again when T5 runs
            }
            ModelOffloader offloader = new ModelOffloader(dev, plan.movesModels());
            offloader.register("text_encoder", clip, plan.clip());
            offloader.register("text_encoder_2", t5, plan.t5());
            offloader.register("transformer", transformer, plan.transformer());
            offloader.register("vae", vae, plan.vae());
            // What PyTorch picks by default on an H100 (and what the reference runs used).
            Torch.preferCudnnAttention(dev);
            FluxPipeline p =
                    new FluxPipeline(base, dev, dtype, offload, clipTok, t5Tok, clip, t5, transformer, vae, offloader);
            p.memoryPlan = plan;
            p.memorySizes = sizes;
            p.streamer = streamer;
            p.t5Streamer = t5Streamer;
            LOG.info("{} on {}", plan.describe(sizes), dev);
            LOG.info("FLUX pipeline ready: {}", p);
            return p;
        }

        /** A local path, or a Hub file downloaded (or found in the cache); errors name the role. */
        private Path hubPath(HubFiles files, String role, String spec) {
            try {
                return files.resolvePath(spec, downloadListener);
            } catch (HubException e) {
                throw new HubException(e.kind(), role + " '" + spec + "': " + e.getMessage(), e);
            }
        }

        /**
         * The base model from a folder or the cache, after downloading (with {@link #downloads}) the
         * files the pipeline reads that the cache lacks.
         */
        private FluxModelFolder openBase(String spec, HubFiles files, FluxModelFolder.Option[] open) {
            boolean isDir;
            try {
                isDir = Files.isDirectory(Path.of(spec));
            } catch (java.nio.file.InvalidPathException e) {
                isDir = false;
            }
            int at = spec.lastIndexOf('@');
            String repo = at > 0 ? spec.substring(0, at) : spec;
            if (hub != null && !isDir && HuggingFaceCache.isRepoId(repo)) {
                try {
                    hub.resolve(
                            repo,
                            at > 0 ? spec.substring(at + 1) : null,
                            FluxModelFolder.hubPatterns(open),
                            downloadListener);
                } catch (HubException e) {
                    throw new HubException(
                            e.kind(),
                            "base model '" + spec + "' (no such folder; as a Hugging Face" + " repository id): "
                                    + e.getMessage(),
                            e);
                }
            }
            return FluxModelFolder.resolve(spec, files.cache(), open);
        }

        private void checkFit(
                FluxTransformer transformer,
                ClipTextModel clip,
                T5EncoderModel t5,
                VaeDecoder vae,
                FluxModelFolder base,
                @Nullable Path t5File) {
            FluxConfig c = transformer.config();
            String t5Source = t5File != null
                    ? t5File.toString()
                    : base.componentDir(FluxComponent.TEXT_ENCODER_2).toString();
            if (c.contextInDim() != t5.config().dModel()) {
                throw new IllegalStateException("FluxPipeline: the transformer's txt_in takes " + c.contextInDim()
                        + "-wide T5 states, but the T5 encoder (" + t5Source + ") has d_model "
                        + t5.config().dModel());
            }
            if (c.vecInDim() != clip.config().hiddenSize()) {
                throw new IllegalStateException("FluxPipeline: the transformer's vector_in takes a " + c.vecInDim()
                        + "-wide pooled CLIP vector, but the CLIP text encoder ("
                        + base.componentDir(FluxComponent.TEXT_ENCODER)
                        + ") has hidden size " + clip.config().hiddenSize());
            }
            if (c.inChannels() != 4 * vae.config().latentChannels()) {
                throw new IllegalStateException("FluxPipeline: the transformer's img_in takes " + c.inChannels()
                        + " channels (2x2 patches), but the VAE (" + base.componentDir(FluxComponent.VAE) + ") has "
                        + vae.config().latentChannels() + " latent channels (needs " + c.inChannels() / 4 + ")");
            }
        }
    }
}
