package io.github.flux4j.core.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.source.WeightException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The fuzz loop of a model folder's {@code config.json}: each mutant of a real config (every
 * top-level key set to each hostile value, then random mutants) is written into the folder, which
 * is then loaded; the only refusal allowed is a {@link WeightException} naming the folder.
 */
public final class ConfigFuzz {
    /**
     * Random mutants per config, after the systematic ones ({@link Mutator#everyKeyHostile}); a
     * mutant whose configuration differs builds the model, which keeps the count down.
     */
    public static final int MUTANTS = Integer.getInteger("fuzz.mutants", 700);

    private ConfigFuzz() {}

    /** What is done with the folder after its {@code config.json} was replaced. */
    @FunctionalInterface
    public interface FolderLoader {
        /** Reads the folder as a user would. */
        void load(Path folder) throws IOException;
    }

    /**
     * Fuzzes {@code folder/config.json}, starting from the classpath {@code resource}.
     *
     * @return the report (already checked to exercise both acceptance and refusal)
     */
    public static FuzzRunner.Report run(String resource, Path folder, long seed, FolderLoader loader)
            throws IOException {
        return run(resource, folder, seed, MUTANTS, loader);
    }

    /** As {@link #run(String, Path, long, FolderLoader)} with {@code mutants} random mutants. */
    public static FuzzRunner.Report run(String resource, Path folder, long seed, int mutants, FolderLoader loader)
            throws IOException {
        return run(resource, folder, "config.json", seed, mutants, loader);
    }

    /**
     * As {@link #run(String, Path, long, int, FolderLoader)} for another JSON file of the folder
     * (such as {@code model.safetensors.index.json}).
     */
    public static FuzzRunner.Report run(
            String resource, Path folder, String fileName, long seed, int mutants, FolderLoader loader)
            throws IOException {
        byte[] text;
        try (InputStream in = Objects.requireNonNull(ConfigFuzz.class.getResourceAsStream(resource), resource)) {
            text = in.readAllBytes();
        }
        JsonNode json = Mutator.parse(text);
        Mutator mutator = new Mutator(seed);
        Path config = folder.resolve(fileName);
        Files.deleteIfExists(config); // a link to the seed in a linkedCopy: never write through it
        String where = folder.toString();
        // LibTorch's one-time start-up (seconds) must not count against a case's time bound.
        Torch.init();
        // The unmutated file must load.
        Files.write(config, text);
        loader.load(folder);
        List<byte[]> systematic = Mutator.everyKeyHostile(json);
        FuzzRunner.Report report = FuzzRunner.run(
                resource,
                seed,
                systematic.size() + mutants,
                Duration.ofSeconds(5),
                i -> i < systematic.size() ? systematic.get(i) : mutator.json(json, text, i),
                m -> {
                    Files.write(config, m);
                    loader.load(folder);
                },
                e -> e instanceof WeightException && e.getMessage().contains(where));
        // Both outcomes must occur, or the test proves little (a transformer's config.json has few
        // keys that matter, so few of its mutants are refused).
        assertThat(report.refused()).as("%s", report).isGreaterThan(mutants / 50);
        assertThat(report.accepted()).as("%s", report).isGreaterThan(mutants / 50);
        return report;
    }

    /** Links {@code target}'s files other than {@code config.json} into a new folder {@code dir/name}. */
    public static Path linkedCopy(Path target, Path dir, String name) throws IOException {
        return linkedCopy(target, dir, name, "config.json");
    }

    /** Links {@code target}'s files other than {@code except} into a new folder {@code dir/name}. */
    public static Path linkedCopy(Path target, Path dir, String name, String except) throws IOException {
        Path folder = Files.createDirectories(dir.resolve(name));
        try (var files = Files.list(target)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (!f.getFileName().toString().equals(except)) {
                    Files.createSymbolicLink(folder.resolve(f.getFileName()), f.toAbsolutePath());
                }
            }
        }
        return folder;
    }

    /** The folder of a classpath resource folder (test resources are plain files). */
    public static Path resourceFolder(String resource) {
        try {
            return Path.of(Objects.requireNonNull(ConfigFuzz.class.getResource(resource), resource)
                    .toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
