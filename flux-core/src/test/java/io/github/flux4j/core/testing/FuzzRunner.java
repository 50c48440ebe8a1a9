package io.github.flux4j.core.testing;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;
import java.util.function.Predicate;

/**
 * Runs a loader over many mutants of a valid file and checks that each one is either read or
 * refused with an allowed exception, within a time bound per mutant. Anything else (another
 * exception, an {@link Error} such as {@link OutOfMemoryError} or {@link StackOverflowError}, a
 * case running past the bound) fails the test, naming the mutant's index and seed; the mutant's
 * bytes are kept in {@code target/fuzz-failures/} to reproduce it.
 */
public final class FuzzRunner {
    /** A loader applied to one mutant. */
    @FunctionalInterface
    public interface Loader {
        /** Reads {@code mutant} as a user would; returns normally if it is accepted. */
        void load(byte[] mutant) throws Exception;
    }

    /**
     * How the mutants ended.
     *
     * @param accepted how many were read without an exception
     * @param refused  how many were refused with an allowed exception
     * @param byType   counts per outcome ({@code "accepted"} or the exception's class)
     * @param samples  the first few refusal messages, to see what users are told
     */
    public record Report(int accepted, int refused, Map<String, Integer> byType, List<String> samples) {}

    private FuzzRunner() {}

    /**
     * Runs {@code mutants} cases.
     *
     * @param name    the fuzzed input, in messages and the saved file's name
     * @param seed    the mutator seed, in messages
     * @param perCase the time bound of one case
     * @param mutant  mutant bytes by index
     * @param loader  what is done with each mutant
     * @param allowed the exceptions a refusal may raise (typically: the documented type, naming the file)
     */
    public static Report run(
            String name,
            long seed,
            int mutants,
            Duration perCase,
            IntFunction<byte[]> mutant,
            Loader loader,
            Predicate<Throwable> allowed) {
        Map<String, Integer> byType = new TreeMap<>();
        int accepted = 0;
        int refused = 0;
        List<String> samples = new ArrayList<>();
        Thread[] thread = new Thread[1];
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-" + name);
            thread[0] = t;
            t.setDaemon(true); // a hung case must not keep the JVM alive
            return t;
        });
        try {
            for (int i = 0; i < mutants; i++) {
                byte[] m = mutant.apply(i);
                Future<?> f = worker.submit(() -> {
                    loader.load(m);
                    return null;
                });
                Throwable failure;
                try {
                    f.get(perCase.toMillis(), TimeUnit.MILLISECONDS);
                    accepted++;
                    byType.merge("accepted", 1, Integer::sum);
                    continue;
                } catch (ExecutionException e) {
                    failure = e.getCause();
                } catch (TimeoutException e) {
                    Throwable where = new Throwable("the case's stack when it timed out");
                    where.setStackTrace(thread[0].getStackTrace());
                    f.cancel(true);
                    throw fail(name, seed, i, m, "ran longer than " + perCase.toMillis() + " ms", where);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted", e);
                }
                if (!(failure instanceof Error) && allowed.test(failure)) {
                    refused++;
                    byType.merge(failure.getClass().getSimpleName(), 1, Integer::sum);
                    if (samples.size() < 8) {
                        samples.add(failure.getMessage());
                    }
                } else {
                    throw fail(name, seed, i, m, "escaped with " + failure, failure);
                }
            }
        } finally {
            worker.shutdownNow();
        }
        return new Report(accepted, refused, byType, samples);
    }

    private static AssertionError fail(String name, long seed, int index, byte[] mutant, String what, Throwable cause) {
        String saved;
        try {
            Path dir = Files.createDirectories(Path.of("target", "fuzz-failures"));
            Path file = dir.resolve(name.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + index + ".bin");
            Files.write(file, mutant);
            saved = file.toAbsolutePath().toString();
        } catch (IOException e) {
            saved = "(not saved: " + e + ")";
        }
        String trace = "";
        if (cause != null) {
            StringWriter w = new StringWriter();
            cause.printStackTrace(new PrintWriter(w));
            trace = "\n" + w;
        }
        return new AssertionError(
                name + " mutant " + index + " (seed " + seed + ") " + what + "; mutant saved to " + saved + trace,
                cause);
    }
}
