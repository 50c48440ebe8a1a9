package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.FluxException;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.tokenizers.ClipTokenizer;
import java.io.IOException;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * Every public exception type of flux4j's modules (gguf, core, tokenizers, pipeline, examples) is
 * a {@link FluxException}, so that a caller can catch that one type (docs/errors.md). The classes
 * are found by listing the modules' jars or class folders, so a new exception is checked too.
 */
class ExceptionHierarchyTest {
    @Test
    void everyPublicExceptionIsAFluxException() throws Exception {
        List<String> names = new ArrayList<>();
        for (Class<?> anchor : List.of(
                GgufFile.class, FluxTransformer.class, ClipTokenizer.class, FluxPipeline.class, FluxCli.class)) {
            names.addAll(classNames(Path.of(
                    anchor.getProtectionDomain().getCodeSource().getLocation().toURI())));
        }
        TreeSet<String> exceptions = new TreeSet<>();
        List<String> outside = new ArrayList<>();
        for (String name : names) {
            Class<?> c = Class.forName(name, false, getClass().getClassLoader());
            if (Throwable.class.isAssignableFrom(c) && isPublic(c)) {
                exceptions.add(c.getName());
                if (!FluxException.class.isAssignableFrom(c)) {
                    outside.add(c.getName());
                }
            }
        }
        assertThat(exceptions)
                .contains(
                        "io.github.flux4j.FluxIoException",
                        "io.github.flux4j.gguf.GgufFormatException",
                        "io.github.flux4j.core.weights.source.SafetensorsFormatException",
                        "io.github.flux4j.core.cuda.CudaException",
                        "io.github.flux4j.tokenizers.TokenizerFormatException",
                        "io.github.flux4j.pipeline.hub.HubException",
                        "io.github.flux4j.pipeline.FluxOutOfMemoryException",
                        "io.github.flux4j.pipeline.GenerationCancelledException");
        assertThat(outside).as("public exceptions that are not FluxExceptions").isEmpty();
    }

    /** Public, and if nested, nested in public types only. */
    private static boolean isPublic(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
            if (!Modifier.isPublic(k.getModifiers())) {
                return false;
            }
        }
        return true;
    }

    /** The flux4j classes in a jar or class folder. */
    private static List<String> classNames(Path location) throws IOException {
        List<String> entries = new ArrayList<>();
        if (Files.isDirectory(location)) {
            try (Stream<Path> s = Files.walk(location)) {
                s.filter(Files::isRegularFile)
                        .forEach(p -> entries.add(location.relativize(p)
                                .toString()
                                .replace(location.getFileSystem().getSeparator(), "/")));
            }
        } else {
            try (ZipFile zip = new ZipFile(location.toFile())) {
                zip.stream().forEach(e -> entries.add(e.getName()));
            }
        }
        return entries.stream()
                .filter(n -> n.startsWith("io/github/flux4j/") && n.endsWith(".class"))
                .filter(n -> !n.endsWith("module-info.class") && !n.endsWith("package-info.class"))
                .map(n -> n.substring(0, n.length() - ".class".length()).replace('/', '.'))
                .toList();
    }
}
