package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.vae.RgbImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pipeline's behaviour around the math: progress, cancellation, seeds, batches, defaults, lifetime. */
class FluxPipelineTest {
    static FluxPipeline flux;

    @BeforeAll
    static void load() throws IOException {
        flux = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q8_0, ComputeDtype.F32)
                .build();
    }

    @AfterAll
    static void close() {
        flux.close();
    }

    /** Small and fast: 2x2 tokens, 8 T5 tokens, 2 steps. */
    static GenerationOptions.Builder quick() {
        return GenerationOptions.builder()
                .size(32, 32)
                .steps(2)
                .maxSequenceLength(8)
                .seed(5);
    }

    @Test
    void progressListenerIsCalledAfterEveryStep() {
        List<StepProgress> calls = Collections.synchronizedList(new ArrayList<>());
        GenerationResult r = flux.generate(
                "a fox", quick().steps(3).progressListener(calls::add).build());
        assertThat(calls).hasSize(3);
        for (int i = 0; i < 3; i++) {
            StepProgress p = calls.get(i);
            assertThat(p.step()).isEqualTo(i);
            assertThat(p.completed()).isEqualTo(i + 1);
            assertThat(p.totalSteps()).isEqualTo(3);
            assertThat(p.stepTime()).isEqualTo(r.timings().steps().get(i));
            if (i > 0) {
                assertThat(p.elapsed()).isGreaterThanOrEqualTo(calls.get(i - 1).elapsed());
                assertThat(p.timestep()).isLessThan(calls.get(i - 1).timestep());
            }
        }
        assertThat(calls.get(0).timestep()).isEqualTo(1000f);
        assertThat(calls.get(2).fraction()).isEqualTo(1.0);
        assertThat(r.timings().total()).isGreaterThanOrEqualTo(calls.get(2).elapsed());
        assertThat(r.timings().modelMoves()).isEqualTo(Duration.ZERO);
    }

    @Test
    void cancellationFromAnotherThreadStopsAtTheNextStepAndLeavesThePipelineUsable() throws Exception {
        RgbImage expected = flux.generate("a fox", quick().steps(3).build()).image();
        Cancellation stop = new Cancellation();
        CountDownLatch stepDone = new CountDownLatch(1);
        CountDownLatch cancelled = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<GenerationResult> run = pool.submit(() -> flux.generate(
                    "a fox",
                    quick().steps(3)
                            .cancellation(stop)
                            .progressListener(p -> {
                                if (p.step() == 0) {
                                    stepDone.countDown();
                                    await(cancelled);
                                }
                            })
                            .build()));
            pool.submit(() -> {
                await(stepDone);
                stop.cancel("user request");
                cancelled.countDown();
            });
            assertThatThrownBy(() -> run.get(60, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(GenerationCancelledException.class)
                    .cause()
                    .hasMessageContaining("before denoising step 2 of 3")
                    .hasMessageContaining("user request");
        } finally {
            pool.shutdownNow();
        }
        assertThat(stop.isCancelled()).isTrue();
        // Usable afterwards, with the same result as before.
        assertThat(flux.generate("a fox", quick().steps(3).build()).image()).isEqualTo(expected);
    }

    @Test
    void aCancelledTokenStopsBeforeAnyWork() {
        Cancellation stop = new Cancellation();
        stop.cancel();
        List<StepProgress> calls = new ArrayList<>();
        assertThatThrownBy(() -> flux.generate(
                        "a fox",
                        quick().cancellation(stop).progressListener(calls::add).build()))
                .isInstanceOf(GenerationCancelledException.class)
                .hasMessageContaining("before it started");
        assertThat(calls).isEmpty();
    }

    /**
     * A token cancelled while a step's transformer forward is about to run stops inside the
     * forward, before its first block (not at the next step), frees everything, and the next
     * generation with a fresh token gives the usual image.
     */
    @Test
    void cancellationStopsInsideTheTransformerWithinOneBlockAndThePipelineStaysUsable() {
        RgbImage expected = flux.generate("a fox", quick().steps(3).build()).image();
        long before = NativeMemory.livePointers();
        Cancellation stop = new Cancellation();
        List<StepProgress> calls = new ArrayList<>();
        // timestep.1 is recorded in step 2 right before the transformer forward: the next
        // cancellation point is the transformer's first block.
        PipelineTrace cancelInStep2 = (name, t) -> {
            if (name.equals("timestep.1")) {
                stop.cancel("user request");
            }
        };
        assertThatThrownBy(() -> flux.generate(
                        "a fox",
                        quick().steps(3)
                                .cancellation(stop)
                                .trace(cancelInStep2)
                                .progressListener(calls::add)
                                .build()))
                .isInstanceOf(GenerationCancelledException.class)
                .hasMessage("generation cancelled in denoising step 2 of 3, before transformer double block 1 of 2:"
                        + " user request");
        assertThat(calls).as("step 1 ran, step 2 did not finish").hasSize(1);
        assertThat(NativeMemory.livePointers()).isLessThanOrEqualTo(before);

        // The same token stays cancelled: a later call stops before any work.
        assertThatThrownBy(() -> flux.generate(
                        "a fox", quick().steps(3).cancellation(stop).build()))
                .isInstanceOf(GenerationCancelledException.class)
                .hasMessageContaining("before it started");
        // A fresh token: the usual image.
        assertThat(flux.generate(
                                "a fox",
                                quick().steps(3)
                                        .cancellation(new Cancellation())
                                        .build())
                        .image())
                .isEqualTo(expected);
    }

    @Test
    void cancellationStopsInsideTheTextEncoders() {
        for (String[] c : new String[][] {
            {"clip_input_ids", "in prompt encoding, before CLIP text encoder layer 1 of 1"},
            {"t5_input_ids", "in prompt encoding, before T5 encoder layer 1 of 2"}
        }) {
            Cancellation stop = new Cancellation();
            PipelineTrace trace = (name, t) -> {
                if (name.equals(c[0])) {
                    stop.cancel();
                }
            };
            assertThatThrownBy(() -> flux.generate(
                            "a fox", quick().cancellation(stop).trace(trace).build()))
                    .isInstanceOf(GenerationCancelledException.class)
                    .hasMessage("generation cancelled " + c[1]);
        }
        assertThat(flux.generate("a fox", quick().build()).images()).hasSize(1);
    }

    /**
     * Interrupting the generating thread cancels the generation (within one block), with or
     * without a token; the interrupt status stays set.
     */
    @Test
    void anInterruptCancelsTheGenerationAndStaysSet() throws Exception {
        RgbImage expected = flux.generate("a fox", quick().steps(3).build()).image();
        PipelineTrace interruptInStep2 = (name, t) -> {
            if (name.equals("timestep.1")) {
                Thread.currentThread().interrupt();
            }
        };
        try {
            assertThatThrownBy(() -> flux.generate(
                            "a fox", quick().steps(3).trace(interruptInStep2).build()))
                    .isInstanceOf(GenerationCancelledException.class)
                    .hasMessage("generation cancelled in denoising step 2 of 3, before transformer double block 1 of 2:"
                            + " the generating thread was interrupted");
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
            // Still interrupted: the next call stops at once.
            assertThatThrownBy(() -> flux.generate("a fox", quick().build()))
                    .isInstanceOf(GenerationCancelledException.class)
                    .hasMessageContaining("before it started");
        } finally {
            Thread.interrupted();
        }
        assertThat(flux.generate("a fox", quick().steps(3).build()).image()).isEqualTo(expected);

        // From another thread, as Future.cancel(true) does on an executor.
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            CountDownLatch started = new CountDownLatch(1);
            AtomicBoolean interruptSent = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch finished = new CountDownLatch(1);
            Future<?> run = pool.submit(() -> {
                try {
                    flux.generate(
                            "a fox",
                            quick().steps(3)
                                    .trace((name, t) -> {
                                        if (name.equals("timestep.1")) {
                                            started.countDown();
                                            while (!interruptSent.get()) {
                                                Thread.onSpinWait(); // not interruptible: the pipeline must notice
                                            }
                                        }
                                    })
                                    .build());
                } catch (Throwable e) {
                    failure.set(e);
                } finally {
                    finished.countDown();
                }
            });
            await(started);
            run.cancel(true);
            interruptSent.set(true);
            await(finished);
            assertThat(failure.get())
                    .isInstanceOf(GenerationCancelledException.class)
                    .hasMessageContaining("in denoising step 2 of 3, before transformer double block 1 of 2")
                    .hasMessageEndingWith("the generating thread was interrupted");
            // the pool thread is reusable (the executor clears the interrupt) and so is the pipeline
            assertThat(pool.submit(() -> flux.generate("a fox", quick().steps(3).build())
                                    .image())
                            .get(60, TimeUnit.SECONDS))
                    .isEqualTo(expected);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aFailingListenerEndsTheGenerationAndThePipelineStaysUsable() {
        assertThatThrownBy(() -> flux.generate(
                        "a fox",
                        quick().progressListener(p -> {
                                    throw new IllegalStateException("listener broke");
                                })
                                .build()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("listener broke");
        assertThat(flux.generate("a fox", quick().build()).images()).hasSize(1);
    }

    @Test
    void theSameSeedGivesTheSameImageAndARandomSeedIsReported() {
        RgbImage a = flux.generate("a fox", quick().seed(11).build()).image();
        RgbImage b = flux.generate("a fox", quick().seed(11).build()).image();
        RgbImage c = flux.generate("a fox", quick().seed(12).build()).image();
        assertThat(b).isEqualTo(a);
        assertThat(c).isNotEqualTo(a);
        GenerationResult random = flux.generate("a fox", quick().randomSeed().build());
        long seed = random.seed().firstSeed();
        assertThat(flux.generate("a fox", quick().seed(seed).build()).image()).isEqualTo(random.image());
    }

    @Test
    void batchesKeepTheImagesOfOnePromptTogether() {
        GenerationResult one =
                flux.generate("a fox", quick().numImagesPerPrompt(2).build());
        assertThat(one.images()).hasSize(2);
        assertThat(one.image(0)).isNotEqualTo(one.image(1));
        GenerationResult two = flux.generate(
                List.of("a fox", "a city"), quick().numImagesPerPrompt(2).build());
        assertThat(two.images()).hasSize(4);
        assertThat(two.prompts()).containsExactly("a fox", "a city");
        // One generator for the whole batch: the first image is the single-image draw; the noise of
        // image 0 is the same, the text the same: the same image up to batched-GEMM rounding.
        assertThat(psnr(two.image(0), one.image(0))).isGreaterThan(50);
    }

    @Test
    void perImageSeedsMustNumberTheBatch() {
        assertThatThrownBy(() ->
                        flux.generate(List.of("a", "b"), quick().seeds(1, 2, 3).build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("3 per-image seeds")
                .hasMessageContaining("batch has 2 images");
        GenerationResult r =
                flux.generate(List.of("a fox", "a fox"), quick().seeds(21, 22).build());
        RgbImage single = flux.generate("a fox", quick().seed(22).build()).image();
        assertThat(psnr(r.image(1), single)).isGreaterThan(50);
    }

    @Test
    void defaultsFollowFluxPipeline() {
        assertThat(flux.defaultSteps()).isEqualTo(28);
        assertThat(flux.defaultImageSize()).isEqualTo(1024);
        assertThat(flux.guidanceDistilled()).isTrue();
        assertThat(flux.device()).isEqualTo(FluxDevice.cpu());
        assertThat(flux.computeDtype()).isEqualTo(ComputeDtype.F32);
        assertThat(flux.offload()).isEqualTo(Offload.NONE);
        GenerationResult r = flux.generate(
                "a fox",
                GenerationOptions.builder()
                        .size(32, 48)
                        .maxSequenceLength(8)
                        .seed(1)
                        .build());
        assertThat(r.steps()).isEqualTo(28);
        assertThat(r.guidanceScale()).isEqualTo(3.5);
        assertThat(r.width()).isEqualTo(48);
        assertThat(r.height()).isEqualTo(32);
        assertThat(r.image().width()).isEqualTo(48);
        assertThat(r.warnings()).isEmpty();
    }

    @Test
    void overLongPromptsAreTruncatedWithDiffusersWarning() {
        String longPrompt = String.join(" ", Collections.nCopies(60, "red fox"));
        GenerationResult r = flux.generate(longPrompt, quick().build());
        assertThat(r.warnings()).hasSize(2);
        assertThat(r.warnings().get(0))
                .startsWith("The following part of your input was truncated because CLIP can"
                        + " only handle sequences up to 77 tokens: [");
        assertThat(r.warnings().get(1))
                .startsWith("The following part of your input was truncated because"
                        + " `max_sequence_length` is set to  8 tokens: [");
        assertThat(r.images()).hasSize(1);
    }

    /** A 10 KB prompt: the warnings quote the removed text abbreviated, not 9 KB of it. */
    @Test
    void truncationWarningsAbbreviateALongRemovedText() {
        String longPrompt = String.join(" ", Collections.nCopies(1500, "red fox"));
        GenerationResult r = flux.generate(longPrompt, quick().build());
        assertThat(r.warnings()).hasSize(2);
        for (String w : r.warnings()) {
            assertThat(w.length()).as(w).isLessThan(500);
            assertThat(w).containsPattern("\\.\\.\\. \\(\\d+ more characters\\)\\]$");
        }
        // short removed parts are quoted in full
        assertThat(FluxPipeline.abbreviated(List.of("a b", "c"))).isEqualTo("[a b, c]");
        String cut = FluxPipeline.abbreviated(List.of("x".repeat(FluxPipeline.MAX_QUOTED_CHARS + 5)));
        assertThat(cut).isEqualTo("[" + "x".repeat(FluxPipeline.MAX_QUOTED_CHARS) + "... (5 more characters)]");
    }

    @Test
    void sizesAreRoundedDownToMultiplesOf16WithAWarning() {
        GenerationResult r = flux.generate("a fox", quick().size(47, 33).build());
        assertThat(r.height()).isEqualTo(32);
        assertThat(r.width()).isEqualTo(32);
        assertThat(r.warnings()).singleElement().asString().contains("divisible by 16 but are 47 and 33");
    }

    @Test
    void resultsSaveAsPngAndJpeg(@TempDir Path dir) throws IOException {
        GenerationResult r = flux.generate("a fox", quick().build());
        Path png = r.save(0, dir.resolve("fox.png"));
        assertThat(javax.imageio.ImageIO.read(png.toFile()).getRGB(3, 5))
                .isEqualTo(0xFF000000 | r.image().rgbAt(3, 5));
        Path jpg = r.save(0, dir.resolve("fox.jpg"));
        assertThat(Files.size(jpg)).isPositive();
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("fox.png", "fox.jpg");
        }
    }

    @Test
    void badArgumentsAreRefused() {
        assertThatThrownBy(() -> flux.generate(List.of(), quick().build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one prompt");
        List<String> withNull = new ArrayList<>();
        withNull.add("a");
        withNull.add(null);
        assertThatThrownBy(() -> flux.generate(withNull, quick().build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prompt 1 is null");
    }

    @Test
    void generatingLeavesNoNativeObjectsBehind() {
        flux.generate("a fox", quick().build());
        long before = NativeMemory.livePointers();
        for (int i = 0; i < 3; i++) {
            flux.generate("a fox", quick().build());
        }
        assertThat(NativeMemory.livePointers()).isLessThanOrEqualTo(before);
    }

    @Test
    void aClosedPipelineRefusesToGenerate() throws IOException {
        FluxPipeline p = TinyPipeline.builder(TinyFluxFiles.Variant.DEV_Q8_0, ComputeDtype.F32)
                .build();
        p.close();
        p.close();
        assertThatThrownBy(() -> p.generate("a fox", quick().build()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void schnellIgnoresGuidanceWithAWarningAndDefaultsToFourSteps() throws IOException {
        try (FluxPipeline schnell = TinyPipeline.builder(TinyFluxFiles.Variant.SCHNELL_Q8_0, ComputeDtype.F32)
                .build()) {
            assertThat(schnell.guidanceDistilled()).isFalse();
            GenerationOptions.Builder o = GenerationOptions.builder()
                    .size(32, 32)
                    .maxSequenceLength(8)
                    .seed(3);
            GenerationResult r = schnell.generate("a fox", o.build());
            assertThat(r.steps()).isEqualTo(4);
            assertThat(Double.isNaN(r.guidanceScale())).isTrue();
            assertThat(r.warnings()).isEmpty();
            GenerationResult g = schnell.generate("a fox", o.guidanceScale(7).build());
            assertThat(g.warnings()).singleElement().asString().contains("guidance scale 7.0 ignored");
            assertThat(g.image()).isEqualTo(r.image());
        }
    }

    static double psnr(RgbImage a, RgbImage b) {
        return Refs.psnr8(a.rgb(), toFloats(b.rgb()));
    }

    static float[] toFloats(byte[] b) {
        float[] f = new float[b.length];
        for (int i = 0; i < b.length; i++) {
            f[i] = b[i] & 0xFF;
        }
        return f;
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
