package io.github.flux4j.pipeline.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.core.testing.FuzzRunner;
import io.github.flux4j.core.testing.Mutator;
import io.github.flux4j.pipeline.model.FluxModelFolder;
import io.github.flux4j.pipeline.model.ModelFolderException;
import io.github.flux4j.pipeline.model.ModelIndex;
import io.github.flux4j.pipeline.scheduler.FlowMatchEulerScheduler;
import io.github.flux4j.pipeline.scheduler.FlowMatchEulerSchedulerConfig;
import io.github.flux4j.pipeline.scheduler.Schedule;
import io.github.flux4j.pipeline.scheduler.SchedulerConfigException;
import io.github.flux4j.tokenizers.ClipTokenizer;
import io.github.flux4j.tokenizers.EncodedBatch;
import io.github.flux4j.tokenizers.Padding;
import io.github.flux4j.tokenizers.PromptTokenizer;
import io.github.flux4j.tokenizers.T5Tokenizer;
import io.github.flux4j.tokenizers.TokenizerFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates the project's real tokenizer, SentencePiece, {@code model_index.json} and scheduler
 * files thousands of times (bytes, and JSON values of the wrong type, huge, negative, deeply
 * nested, duplicated or removed keys; seeds fixed) and loads each mutant as the pipeline does,
 * using what loaded (tokenizing prompts, computing a schedule). The only refusals allowed are the
 * documented exceptions naming the file; no other exception, no error, no hang.
 */
class LoaderFuzzTest {
    private static final Path TOKENIZERS = Path.of("../flux-tokenizers/src/test/resources/tokenizers");
    private static final Path PIPELINE = Path.of("src/test/resources/reference/pipeline/tiny-flux");
    private static final Duration PER_CASE = Duration.ofSeconds(5);
    private static final List<String> PROMPTS = List.of(
            "A cat holding a sign that says hello world",
            "  Ünïcödé ＦＵＬＬ width, 東京, emoji 🦊 and <|endoftext|> </s> <extra_id_3> tabs\tand\nnewlines  ",
            "");

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void clipTokenizerJson() throws IOException {
        Path p = dir.resolve("tokenizer.json");
        fuzzJson(
                "clip tokenizer.json",
                TOKENIZERS.resolve("clip/tokenizer.json"),
                0xC1L,
                1000,
                p,
                m -> use(ClipTokenizer.fromTokenizerJson(p)),
                tokenizerError(p));
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void t5TokenizerJson() throws IOException {
        Path p = dir.resolve("tokenizer.json");
        fuzzJson(
                "t5 tokenizer.json",
                TOKENIZERS.resolve("t5/tokenizer.json"),
                0x75L,
                400,
                p,
                m -> use(T5Tokenizer.fromTokenizerJson(p)),
                tokenizerError(p));
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void sentencePieceModel() throws IOException {
        Path p = dir.resolve("spiece.model");
        byte[] seed = Files.readAllBytes(TOKENIZERS.resolve("t5/spiece.model"));
        Mutator mutator = new Mutator(0x5B1ECEL);
        FuzzRunner.Report r = FuzzRunner.run(
                "spiece.model",
                0x5B1ECEL,
                1500,
                PER_CASE,
                // Half the edits in the first 4 KiB (the first pieces), the rest anywhere (the
                // trainer and normalizer specs, with the precompiled charsmap, are at the end).
                i -> mutator.bytes(seed, i, i % 2 == 0 ? 4096 : seed.length),
                m -> {
                    Files.write(p, m);
                    use(T5Tokenizer.fromSentencePiece(p));
                },
                tokenizerError(p));
        check(r, 1500);
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void modelIndexJson() throws IOException {
        Path p = dir.resolve(ModelIndex.FILE_NAME);
        fuzzJson(
                ModelIndex.FILE_NAME,
                PIPELINE.resolve(ModelIndex.FILE_NAME),
                0x1DL,
                2000,
                p,
                m -> {
                    ModelIndex index = ModelIndex.read(p);
                    assertThat(index.pipelineClass()).isNotNull();
                    index.components().forEach((k, v) -> assertThat(v.library()).isNotNull());
                },
                e -> e instanceof ModelFolderException && e.getMessage().startsWith(p.toString()));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void schedulerConfigJson() throws IOException {
        Path p = dir.resolve("scheduler_config.json");
        fuzzJson(
                "scheduler_config.json",
                PIPELINE.resolve("scheduler/scheduler_config.json"),
                0x5CL,
                2000,
                p,
                m -> {
                    FlowMatchEulerSchedulerConfig c = FlowMatchEulerSchedulerConfig.read(p);
                    FlowMatchEulerScheduler s = new FlowMatchEulerScheduler(c);
                    // Within [base_image_seq_len, max_image_seq_len], where mu lies between the configured shifts.
                    for (long tokens : new long[] {c.baseImageSeqLen(), c.maxImageSeqLen()}) {
                        Schedule schedule = s.fluxSchedule(28, tokens);
                        for (int i = 0; i < 28; i++) {
                            assertThat(schedule.timestep(i))
                                    .as("timestep %d", i)
                                    .isFinite();
                        }
                    }
                },
                e -> e instanceof SchedulerConfigException && e.getMessage().startsWith(p.toString()));
    }

    /**
     * The whole base-model folder opened with one of its JSON files mutated: what
     * {@code FluxPipeline.builder().baseModel(...)} does first. Only a {@link ModelFolderException}
     * naming the folder may escape.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void modelFolderJsonFiles() throws IOException {
        Path root = dir.resolve("tiny-flux");
        copyTree(PIPELINE, root);
        copyTree(TOKENIZERS.resolve("clip"), root.resolve("tokenizer"));
        copyTree(TOKENIZERS.resolve("t5"), root.resolve("tokenizer_2"));
        FluxModelFolder.open(root); // the unmutated folder opens
        String[] files = {
            ModelIndex.FILE_NAME,
            "vae/config.json",
            "text_encoder/config.json",
            "text_encoder_2/model.safetensors.index.json",
            "transformer/config.json"
        };
        for (int f = 0; f < files.length; f++) {
            Path p = root.resolve(files[f]);
            byte[] original = Files.readAllBytes(p);
            fuzzJson(
                    "folder " + files[f],
                    p,
                    0xF0L + f,
                    300,
                    p,
                    m -> FluxModelFolder.open(root).vaeScaleFactor(),
                    e -> e instanceof ModelFolderException && e.getMessage().startsWith(root.toString()));
            Files.write(p, original);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var paths = Files.walk(from)) {
            for (Path src : (Iterable<Path>) paths::iterator) {
                Path dst = to.resolve(from.relativize(src).toString());
                if (Files.isDirectory(src)) {
                    Files.createDirectories(dst);
                } else {
                    Files.copy(src, dst);
                }
            }
        }
    }

    /** Systematic hostile values for every top-level key, then {@code random} random JSON/byte mutants. */
    private static void fuzzJson(
            String name,
            Path seedFile,
            long seed,
            int random,
            Path p,
            FuzzRunner.Loader load,
            Predicate<Throwable> allowed)
            throws IOException {
        byte[] text = Files.readAllBytes(seedFile);
        JsonNode json = Mutator.parse(text);
        List<byte[]> systematic = new ArrayList<>(Mutator.everyKeyHostile(json));
        Mutator mutator = new Mutator(seed);
        FuzzRunner.Report r = FuzzRunner.run(
                name,
                seed,
                systematic.size() + random,
                PER_CASE,
                i -> i < systematic.size() ? systematic.get(i) : mutator.json(json, text, i),
                m -> {
                    Files.write(p, m);
                    load.load(m);
                },
                allowed);
        check(r, random);
    }

    private static void check(FuzzRunner.Report r, int random) {
        // Both outcomes must occur, or the test proves little.
        assertThat(r.refused()).as("%s", r).isGreaterThan(random / 50);
        assertThat(r.accepted()).as("%s", r).isGreaterThan(random / 50);
    }

    private static Predicate<Throwable> tokenizerError(Path p) {
        return e -> e instanceof TokenizerFormatException && e.getMessage().startsWith(p.toString());
    }

    /** A loaded tokenizer must tokenize anything into ids of its vocabulary. */
    private static void use(PromptTokenizer t) {
        EncodedBatch b = t.encode(PROMPTS, 77, Padding.MAX_LENGTH, true);
        for (int r = 0; r < b.size(); r++) {
            assertThat(b.inputIds(r)).hasSize(77);
        }
    }
}
