package io.github.flux4j.pipeline;

import io.github.flux4j.FluxException;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.DeviceMemory;
import io.github.flux4j.core.torch.FluxDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A generation ran out of device memory (LibTorch's {@code CUDA out of memory}, or the CPU
 * allocator failing). The message names the stage (text encoding by CLIP or T5, denoising step
 * n of N, VAE decoding), the image size and batch, the device's memory when it can be read, and
 * what to try. When it is thrown the call's tensors are already freed and the CUDA allocator's
 * cache emptied; the pipeline and its models stay usable, so a smaller request can follow.
 * The LibTorch exception is the {@linkplain #getCause() cause}.
 */
public final class FluxOutOfMemoryException extends FluxException {
    private static final long serialVersionUID = 1L;

    /** LibTorch's "Tried to allocate 20.00 GiB" (CUDA) and "you tried to allocate N bytes" (CPU). */
    private static final Pattern TRIED = Pattern.compile("[Tt]ried to allocate ([0-9.]+ ?[KMGT]?i?B|[0-9]+ bytes)");

    /** Where in a generation the memory ran out. */
    public enum Stage {
        /** CLIP encoding the prompts. */
        TEXT_ENCODING_CLIP("text encoding (CLIP)"),
        /** T5 encoding the prompts. */
        TEXT_ENCODING_T5("text encoding (T5)"),
        /** Drawing the initial noise and the schedule. */
        PREPARING_LATENTS("preparing the latents"),
        /** A transformer forward and scheduler step. */
        DENOISING("denoising"),
        /** Unpacking the latents, the VAE decoder and post-processing. */
        VAE_DECODING("VAE decoding");

        private final String description;

        Stage(String description) {
            this.description = description;
        }

        /** As in messages, e.g. {@code "text encoding (T5)"}. */
        public String description() {
            return description;
        }
    }

    /**
     * What was being generated when the memory ran out.
     *
     * @param width             image width in pixels
     * @param height            image height in pixels
     * @param prompts           prompts in the call
     * @param imagesPerPrompt   {@code num_images_per_prompt}
     * @param steps             denoising steps of the call
     * @param maxSequenceLength T5's token count
     * @param tiledDecode       whether the VAE decoded in tiles
     * @param device            where the models run
     * @param dtype             the compute dtype
     * @param offload           the pipeline's offloading
     */
    public record Request(
            int width,
            int height,
            int prompts,
            int imagesPerPrompt,
            int steps,
            int maxSequenceLength,
            boolean tiledDecode,
            FluxDevice device,
            ComputeDtype dtype,
            Offload offload) {
        /** Images in the batch. */
        public int batch() {
            return prompts * imagesPerPrompt;
        }
    }

    private final Stage stage;
    private final int step;
    private final Request request;
    private final @Nullable DeviceMemory memory;
    private final List<String> suggestions;

    /**
     * @param stage   where it happened
     * @param step    the denoising step (1-based) for {@link Stage#DENOISING}, else 0
     * @param request what was asked
     * @param memory  the device's memory after the call's tensors were freed, if known
     * @param cause   LibTorch's exception
     */
    public FluxOutOfMemoryException(
            Stage stage, int step, Request request, @Nullable DeviceMemory memory, Throwable cause) {
        this(stage, step, request, memory, suggestions(stage, request), cause);
    }

    private FluxOutOfMemoryException(
            Stage stage,
            int step,
            Request request,
            @Nullable DeviceMemory memory,
            List<String> suggestions,
            Throwable cause) {
        super(message(stage, step, request, memory, suggestions, cause), cause);
        this.stage = stage;
        this.step = step;
        this.request = request;
        this.memory = memory;
        this.suggestions = List.copyOf(suggestions);
    }

    /**
     * Whether {@code t} (or one of its causes) is LibTorch running out of memory: CUDA's
     * {@code "CUDA out of memory"} ({@code torch.OutOfMemoryError}), the CPU allocator's
     * {@code "can't allocate memory"}, or JavaCPP's {@code "Cannot allocate"} of native memory.
     * Java heap exhaustion ({@link OutOfMemoryError}) is not: the JVM is not in a state to go on.
     */
    public static boolean isOutOfMemory(@Nullable Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof FluxOutOfMemoryException) {
                return true;
            }
            String m = c.getMessage();
            if (!(c instanceof Error)
                    && m != null
                    && (m.contains("CUDA out of memory")
                            || m.contains("out of memory")
                            || m.contains("can't allocate memory")
                            || m.contains("CUDNN_STATUS_ALLOC_FAILED")
                            || m.contains("CUBLAS_STATUS_ALLOC_FAILED"))) {
                return true;
            }
        }
        return false;
    }

    /** Where it happened. */
    public Stage stage() {
        return stage;
    }

    /** The denoising step (1-based) that ran out of memory; empty for the other stages. */
    public OptionalInt step() {
        return stage == Stage.DENOISING && step > 0 ? OptionalInt.of(step) : OptionalInt.empty();
    }

    /** What was being generated. */
    public Request request() {
        return request;
    }

    /** The device's memory after the call's tensors were freed; empty on the CPU or if unknown. */
    public Optional<DeviceMemory> memory() {
        return Optional.ofNullable(memory);
    }

    /** What to try, most effective first (also in the message). */
    public List<String> suggestions() {
        return suggestions;
    }

    static List<String> suggestions(Stage stage, Request r) {
        List<String> s = new ArrayList<>();
        if (r.offload() == Offload.NONE && r.device().isCuda()) {
            s.add("build the pipeline with offload(Offload.MODEL) (CLI: --offload model): only the running model"
                    + " is on the GPU, the others wait in CPU memory");
        }
        boolean pixels = stage == Stage.DENOISING || stage == Stage.VAE_DECODING || stage == Stage.PREPARING_LATENTS;
        if (pixels) {
            s.add("a smaller image (now " + r.width() + "x" + r.height() + "; memory grows with the pixel count)");
        }
        if (r.batch() > 1) {
            s.add("fewer images per call (now " + r.prompts() + " prompt(s) x " + r.imagesPerPrompt()
                    + " image(s) per prompt = batch " + r.batch() + "); generate them one by one");
        }
        if (stage == Stage.VAE_DECODING && !r.tiledDecode()) {
            s.add("VAE tiling: GenerationOptions.Builder.tiledDecode(true) decodes the image in tiles");
        }
        if (stage == Stage.TEXT_ENCODING_T5 && r.maxSequenceLength() > 256) {
            s.add("a shorter maxSequenceLength (now " + r.maxSequenceLength() + "; FLUX.1-schnell uses 256)");
        }
        if (stage == Stage.DENOISING || stage == Stage.TEXT_ENCODING_T5) {
            s.add("smaller weights: a lower GGUF quantization (e.g. Q4_K_S for the transformer, a Q8_0 or Q4_K_M"
                    + " T5 with t5Gguf)");
        }
        if (r.dtype() == ComputeDtype.F32) {
            s.add("compute in bfloat16 (computeDtype(ComputeDtype.BF16)): half the memory of float32");
        }
        return s;
    }

    private static String message(
            Stage stage,
            int step,
            Request r,
            @Nullable DeviceMemory memory,
            List<String> suggestions,
            Throwable cause) {
        StringBuilder m = new StringBuilder();
        m.append(r.device().isCuda() ? "CUDA out of memory" : "out of memory")
                .append(" during ")
                .append(stage.description());
        if (stage == Stage.DENOISING && step > 0) {
            m.append(" (step ").append(step).append(" of ").append(r.steps()).append(')');
        }
        m.append(" of ")
                .append(r.width())
                .append('x')
                .append(r.height())
                .append(" images, batch ")
                .append(r.batch())
                .append(" (")
                .append(r.prompts())
                .append(" prompt(s) x ")
                .append(r.imagesPerPrompt())
                .append(" per prompt), ")
                .append(r.dtype().name().toLowerCase(Locale.ROOT))
                .append(" on ")
                .append(r.device())
                .append(", offload ")
                .append(r.offload());
        String tried = tried(cause);
        if (tried != null) {
            m.append(": LibTorch tried to allocate ").append(tried);
        }
        if (memory != null) {
            m.append(". Now ").append(memory);
        }
        m.append(". The call's tensors were freed and the pipeline is still usable.");
        if (!suggestions.isEmpty()) {
            m.append(" To fit, try: ").append(String.join("; ", suggestions)).append('.');
        }
        return m.toString();
    }

    /** The size LibTorch asked for, as it wrote it, or null. */
    static @Nullable String tried(Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c.getMessage() != null) {
                Matcher matcher = TRIED.matcher(c.getMessage());
                if (matcher.find()) {
                    return matcher.group(1);
                }
            }
        }
        return null;
    }
}
