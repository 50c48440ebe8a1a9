package io.github.flux4j.core.doctor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a small diagnostic program ({@code ldconfig -p}, {@code nvidia-smi}) with a time limit. */
final class Processes {
    private Processes() {}

    /**
     * The standard output of {@code command} if it exits with status 0 within the limit; empty if
     * it cannot start, fails or takes too long (it is then killed).
     */
    static Optional<String> run(List<String> command, long timeout, TimeUnit unit) {
        Process p;
        try {
            p = new ProcessBuilder(command)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        try (InputStream in = p.getInputStream()) {
            // Read on another thread so that a program filling the pipe cannot block past the limit.
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(in.readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return "";
                }
            });
            if (!p.waitFor(timeout, unit)) {
                p.destroyForcibly();
                return Optional.empty();
            }
            String text = out.get(timeout, unit);
            return p.exitValue() == 0 ? Optional.of(text) : Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return Optional.empty();
        } catch (IOException | java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            p.destroyForcibly();
            return Optional.empty();
        }
    }
}
