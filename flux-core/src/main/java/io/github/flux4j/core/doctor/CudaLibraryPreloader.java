package io.github.flux4j.core.doctor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the CUDA libraries of the {@value LibrarySearch#ENV} folders by absolute path, before
 * LibTorch's GPU natives load, so that {@code LD_LIBRARY_PATH} need not name them.
 *
 * <p>Why this works: when {@code libtorch_cuda.so} is loaded, the dynamic linker satisfies its
 * {@code NEEDED libcudart.so.13} with an already loaded object of that soname before searching any
 * folder, and cuDNN's and NVRTC's own {@code dlopen} of their sub-libraries by name are satisfied the
 * same way. The libraries depend on each other ({@code libcusolver} needs {@code libcublas} and
 * {@code libnvJitLink}, {@code libcudnn_cnn} needs {@code libcudnn_ops}, ...), and a library whose
 * dependencies are neither loaded nor on the linker's path fails to load; so this loads in rounds,
 * retrying the failures after each round that made progress, which needs no hard-coded order.
 */
public final class CudaLibraryPreloader {
    private static final Logger LOG = LoggerFactory.getLogger(CudaLibraryPreloader.class);
    private static @Nullable Result environmentResult;

    private CudaLibraryPreloader() {}

    /**
     * What a preload did.
     *
     * @param loaded the files loaded, in load order
     * @param failed the files that did not load, with the linker's last message for each
     */
    public record Result(List<Path> loaded, Map<Path, String> failed) {
        /** Copies the collections. */
        public Result {
            loaded = List.copyOf(loaded);
            failed = Map.copyOf(failed);
        }
    }

    /**
     * Preloads the libraries of {@link LibrarySearch#preloadRootsFromEnvironment()} with
     * {@link System#load}, once per process (later calls return the first result). Nothing is
     * loaded, and the result is empty, when neither {@value LibrarySearch#ENV} nor
     * {@code -D}{@value LibrarySearch#PROPERTY} is set.
     *
     * @throws IllegalArgumentException if a named folder does not exist
     */
    public static synchronized Result preloadFromEnvironment() {
        if (environmentResult == null) {
            List<Path> candidates = new LibrarySearch(
                            LibrarySearch.preloadRootsFromEnvironment(), List.of(), List.of(), Map.of(), List.of())
                    .preloadCandidates();
            environmentResult = preload(candidates, p -> System.load(p.toString()));
            if (!environmentResult.failed().isEmpty()) {
                LOG.warn(
                        "Could not preload {} CUDA libraries from {}: {}",
                        environmentResult.failed().size(),
                        LibrarySearch.ENV,
                        environmentResult.failed());
            } else {
                LOG.debug(
                        "Preloaded {} CUDA libraries from {}",
                        environmentResult.loaded().size(),
                        LibrarySearch.ENV);
            }
        }
        return environmentResult;
    }

    /**
     * Loads {@code files} with {@code load}, in rounds until every file loaded or a round loaded
     * none (see the class comment).
     *
     * @param load loads one file, throwing {@link UnsatisfiedLinkError} if it cannot
     */
    public static Result preload(List<Path> files, Consumer<Path> load) {
        List<Path> loaded = new ArrayList<>();
        Map<Path, String> failed = new LinkedHashMap<>();
        List<Path> pending = new ArrayList<>(files);
        boolean progress = true;
        while (!pending.isEmpty() && progress) {
            progress = false;
            failed.clear();
            List<Path> next = new ArrayList<>();
            for (Path p : pending) {
                try {
                    load.accept(p);
                    loaded.add(p);
                    progress = true;
                } catch (UnsatisfiedLinkError e) {
                    failed.put(p, String.valueOf(e.getMessage()));
                    next.add(p);
                }
            }
            pending = next;
        }
        return new Result(loaded, failed);
    }
}
