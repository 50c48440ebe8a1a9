package io.github.flux4j.core.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CudaLibraryPreloaderTest {
    /** A fake linker: a library loads once everything it needs is loaded. */
    private static final Map<String, List<String>> NEEDS = Map.of(
            "libcusolver.so.12",
                    List.of("libcublas.so.13", "libcublasLt.so.13", "libcusparse.so.12", "libnvJitLink.so.13"),
            "libcublas.so.13", List.of("libcublasLt.so.13"),
            "libcusparse.so.12", List.of("libnvJitLink.so.13"),
            "libcudnn_cnn.so.9", List.of("libcudnn_ops.so.9", "libcudnn_graph.so.9"),
            "libcudnn_ops.so.9", List.of("libcudnn_graph.so.9"),
            "libbroken.so.1", List.of("libnot-there.so.1"));

    @Test
    void loadsInRoundsUntilDependenciesAreSatisfied() {
        List<Path> files = List.of(
                        "libcusolver.so.12",
                        "libcudnn_cnn.so.9",
                        "libcublas.so.13",
                        "libcusparse.so.12",
                        "libcudnn_ops.so.9",
                        "libcublasLt.so.13",
                        "libnvJitLink.so.13",
                        "libcudnn_graph.so.9",
                        "libbroken.so.1")
                .stream()
                .map(n -> Path.of("/site/nvidia/lib", n))
                .toList();
        Set<String> loaded = new HashSet<>();
        CudaLibraryPreloader.Result r = CudaLibraryPreloader.preload(files, p -> {
            String name = p.getFileName().toString();
            for (String dep : NEEDS.getOrDefault(name, List.of())) {
                if (!loaded.contains(dep)) {
                    throw new UnsatisfiedLinkError(p + ": " + dep + ": cannot open shared object file");
                }
            }
            loaded.add(name);
        });
        List<String> order =
                r.loaded().stream().map(p -> p.getFileName().toString()).toList();
        assertThat(order).hasSize(8).doesNotContain("libbroken.so.1");
        for (String lib : order) {
            for (String dep : NEEDS.getOrDefault(lib, List.of())) {
                assertThat(order.indexOf(dep)).as(dep + " before " + lib).isLessThan(order.indexOf(lib));
            }
        }
        assertThat(r.failed()).containsOnlyKeys(Path.of("/site/nvidia/lib/libbroken.so.1"));
        assertThat(r.failed().values()).singleElement().asString().contains("libnot-there.so.1");
    }

    @Test
    void nothingToLoadIsNotAnError() {
        CudaLibraryPreloader.Result r = CudaLibraryPreloader.preload(List.of(), p -> {
            throw new AssertionError("nothing should load");
        });
        assertThat(r.loaded()).isEmpty();
        assertThat(r.failed()).isEmpty();
    }
}
