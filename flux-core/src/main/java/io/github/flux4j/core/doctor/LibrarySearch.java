package io.github.flux4j.core.doctor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Finds the {@link CudaLibrary CUDA libraries} the way the dynamic linker would, plus the folders
 * named by {@value #ENV} / {@value #PROPERTY}.
 *
 * <p>Where it looks, in this order (the first hit of a file name wins):
 * <ol>
 *   <li>the {@code FLUX4J_CUDA_LIBS} folders (system property {@code flux4j.cuda.libs} first; several
 *       separated by {@code :}), searched recursively: point it at a pip {@code site-packages/nvidia}
 *       folder and the libraries are found in {@code cu13/lib}, {@code cudnn/lib}, {@code nccl/lib};
 *       these are the libraries {@link CudaLibraryPreloader} loads by absolute path;</li>
 *   <li>{@code LD_LIBRARY_PATH};</li>
 *   <li>the run paths compiled into the JavaCPP natives ({@code /usr/local/cuda/lib64} and the like);</li>
 *   <li>the linker cache ({@code ldconfig -p});</li>
 *   <li>{@code /lib64}, {@code /usr/lib64}, {@code /lib}, {@code /usr/lib}.</li>
 * </ol>
 * Files are matched by exact name ({@code libcudart.so.13}), as the linker matches {@code NEEDED}
 * entries.
 */
public final class LibrarySearch {
    /** Environment variable naming folders with the CUDA libraries (searched recursively). */
    public static final String ENV = "FLUX4J_CUDA_LIBS";
    /** System property with the same meaning; it takes precedence over {@link #ENV}. */
    public static final String PROPERTY = "flux4j.cuda.libs";

    /** Folders in the RUNPATH of the GPU natives ({@code readelf -d}), where the linker also looks. */
    static final List<Path> RUNPATH_DIRS = List.of(
            Path.of("/usr/local/cuda/lib64"),
            Path.of("/usr/local/cuda/lib"),
            Path.of("/usr/local/cuda-13.1/targets/x86_64-linux/lib"),
            Path.of("/usr/local/cuda/targets/x86_64-linux/lib"));
    /** The linker's built-in folders on x86-64 Linux. */
    static final List<Path> DEFAULT_DIRS =
            List.of(Path.of("/lib64"), Path.of("/usr/lib64"), Path.of("/lib"), Path.of("/usr/lib"));

    /** How deep the recursive search of a {@link #ENV} folder goes ({@code nvidia/cu13/lib} is 3). */
    private static final int MAX_DEPTH = 6;

    private static final Pattern LDCONFIG_LINE = Pattern.compile("^\\s*(\\S+)\\s+\\(([^)]*)\\)\\s+=>\\s+(\\S.*?)\\s*$");
    private static final Pattern VERSIONED_NAME = Pattern.compile("^(lib[^/]+\\.so)\\.(\\d+(?:\\.\\d+)*)$");
    private static final Pattern CUDNN_DIST_INFO =
            Pattern.compile("^nvidia_cudnn_cu\\d+-(\\d+(?:\\.\\d+)*)\\.dist-info$");
    /** Companion files loaded with a preload folder's libraries: cuDNN's sub-libraries, NVRTC's builtins. */
    private static final Pattern COMPANION =
            Pattern.compile("^(libcudnn_\\w+\\.so\\.9|libnvrtc-builtins\\.so\\.13(\\.\\d+)*)$");

    /**
     * Where a library was found.
     *
     * @param library the library
     * @param path the file (as found; may be a symbolic link)
     * @param source how it was found: {@code FLUX4J_CUDA_LIBS}, {@code LD_LIBRARY_PATH}, {@code runpath},
     *     {@code ldconfig} or {@code default}
     * @param version the library's full version when it can be told (from the real file's name or, for
     *     cuDNN from pip, the wheel's {@code .dist-info} folder), else null
     */
    public record Found(
            CudaLibrary library,
            Path path,
            String source,
            @Nullable NumericVersion version) {}

    private final List<Path> preloadRoots;
    private final List<Path> libraryPath;
    private final List<Path> runpathDirs;
    private final Map<String, Path> ldconfigCache;
    private final List<Path> defaultDirs;

    /**
     * A search over explicit places (tests use fake folder trees).
     *
     * @param preloadRoots the {@link #ENV} folders, searched recursively
     * @param libraryPath the {@code LD_LIBRARY_PATH} folders
     * @param runpathDirs the natives' run path folders
     * @param ldconfigCache file name to path, as {@code ldconfig -p} lists it
     * @param defaultDirs the linker's built-in folders
     */
    public LibrarySearch(
            List<Path> preloadRoots,
            List<Path> libraryPath,
            List<Path> runpathDirs,
            Map<String, Path> ldconfigCache,
            List<Path> defaultDirs) {
        this.preloadRoots = List.copyOf(preloadRoots);
        this.libraryPath = List.copyOf(libraryPath);
        this.runpathDirs = List.copyOf(runpathDirs);
        this.ldconfigCache = Map.copyOf(ldconfigCache);
        this.defaultDirs = List.copyOf(defaultDirs);
    }

    /** The search this process's linker would do, plus {@link #ENV} / {@link #PROPERTY}. */
    public static LibrarySearch system() {
        return new LibrarySearch(
                preloadRootsFromEnvironment(),
                splitPath(System.getenv("LD_LIBRARY_PATH")),
                RUNPATH_DIRS,
                parseLdconfig(runLdconfig()),
                DEFAULT_DIRS);
    }

    /** The folders of {@link #PROPERTY}, else {@link #ENV}; empty if neither is set. */
    public static List<Path> preloadRootsFromEnvironment() {
        String value = System.getProperty(PROPERTY);
        if (value == null || value.isBlank()) {
            value = System.getenv(ENV);
        }
        return splitPath(value);
    }

    /** The folders a {@code :}-separated path names (empty entries dropped). */
    static List<Path> splitPath(@Nullable String value) {
        List<Path> out = new ArrayList<>();
        if (value != null) {
            for (String s : value.split(java.io.File.pathSeparator)) {
                if (!s.isBlank()) {
                    out.add(Path.of(s.strip()));
                }
            }
        }
        return out;
    }

    /** The same search without the {@link #ENV} folders. */
    public LibrarySearch withoutPreloadRoots() {
        return new LibrarySearch(List.of(), libraryPath, runpathDirs, ldconfigCache, defaultDirs);
    }

    /** The {@link #ENV} folders this search uses. */
    public List<Path> preloadRoots() {
        return preloadRoots;
    }

    /**
     * Finds each library; libraries not found are absent from the map.
     *
     * @throws IllegalArgumentException if a {@link #ENV} folder does not exist or is not a folder
     */
    public Map<CudaLibrary, Found> find() {
        Map<String, Path> rooted = indexRoots();
        Map<CudaLibrary, Found> found = new EnumMap<>(CudaLibrary.class);
        for (CudaLibrary lib : CudaLibrary.values()) {
            Found f = locate(lib, rooted);
            if (f != null) {
                found.put(lib, f);
            }
        }
        return found;
    }

    /**
     * The files to load by absolute path from the {@link #ENV} folders: the libraries found there
     * and their companions (cuDNN's engine and heuristic libraries, NVRTC's builtins), in the
     * folders' order. Empty when no folder is set.
     */
    public List<Path> preloadCandidates() {
        List<Path> out = new ArrayList<>();
        for (Map.Entry<String, Path> e : indexRoots().entrySet()) {
            String name = e.getKey();
            boolean known = false;
            for (CudaLibrary lib : CudaLibrary.values()) {
                known |= lib != CudaLibrary.DRIVER && lib.fileName().equals(name);
            }
            if (known || COMPANION.matcher(name).matches()) {
                out.add(e.getValue());
            }
        }
        return out;
    }

    private @Nullable Found locate(CudaLibrary lib, Map<String, Path> rooted) {
        String name = lib.fileName();
        Path p = rooted.get(name);
        if (p != null) {
            return found(lib, p, ENV);
        }
        for (Path dir : libraryPath) {
            if (Files.exists(dir.resolve(name))) {
                return found(lib, dir.resolve(name), "LD_LIBRARY_PATH");
            }
        }
        for (Path dir : runpathDirs) {
            if (Files.exists(dir.resolve(name))) {
                return found(lib, dir.resolve(name), "runpath");
            }
        }
        p = ldconfigCache.get(name);
        if (p != null) {
            return found(lib, p, "ldconfig");
        }
        for (Path dir : defaultDirs) {
            if (Files.exists(dir.resolve(name))) {
                return found(lib, dir.resolve(name), "default");
            }
        }
        return null;
    }

    private static Found found(CudaLibrary lib, Path path, String source) {
        return new Found(lib, path, source, lib.isCudnn() || lib == CudaLibrary.DRIVER ? versionOf(path) : null);
    }

    /** File name to path of every library file under the {@link #ENV} folders (first wins). */
    private Map<String, Path> indexRoots() {
        Map<String, Path> index = new LinkedHashMap<>();
        for (Path root : preloadRoots) {
            if (!Files.isDirectory(root)) {
                throw new IllegalArgumentException(ENV + " / -D" + PROPERTY + ": '" + root
                        + "' is not a folder (expected e.g. .../site-packages/nvidia)");
            }
            try (Stream<Path> files = Files.walk(root, MAX_DEPTH)) {
                files.filter(f -> f.getFileName() != null
                                && f.getFileName().toString().startsWith("lib")
                                && f.getFileName().toString().contains(".so")
                                && !Files.isDirectory(f))
                        .sorted()
                        .forEach(f -> index.putIfAbsent(f.getFileName().toString(), f));
            } catch (IOException | UncheckedIOException e) {
                throw new IllegalArgumentException(ENV + ": cannot list '" + root + "': " + e.getMessage(), e);
            }
        }
        return index;
    }

    /**
     * The full version of a library file: from the real file's name ({@code libcudnn.so.9 ->
     * libcudnn.so.9.19.0}, {@code libcuda.so.1 -> libcuda.so.580.95.05}), else from a sibling with
     * a longer version, else (pip wheels hold plain files) from a {@code nvidia_cudnn_cu13-9.19.0.56.dist-info}
     * folder up to four levels above. Null when none says.
     */
    static @Nullable NumericVersion versionOf(Path file) {
        String name = file.getFileName().toString();
        Matcher own = VERSIONED_NAME.matcher(name);
        if (!own.matches()) {
            return null;
        }
        String stem = own.group(1);
        NumericVersion soVersion = NumericVersion.parse(own.group(2));
        try {
            Matcher real =
                    VERSIONED_NAME.matcher(file.toRealPath().getFileName().toString());
            if (real.matches() && real.group(1).equals(stem)) {
                NumericVersion v = NumericVersion.parse(real.group(2));
                if (v.parts().size() > soVersion.parts().size()) {
                    return v;
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            // A dangling link: fall through to the other clues.
        }
        Path dir = file.getParent();
        if (dir != null) {
            try (Stream<Path> siblings = Files.list(dir)) {
                Optional<NumericVersion> longest = siblings.map(
                                s -> VERSIONED_NAME.matcher(s.getFileName().toString()))
                        .filter(m -> m.matches() && m.group(1).equals(stem))
                        .map(m -> NumericVersion.parse(m.group(2)))
                        .filter(v -> v.major() == soVersion.major()
                                && v.parts().size() > soVersion.parts().size())
                        .max(NumericVersion::compareTo);
                if (longest.isPresent()) {
                    return longest.get();
                }
            } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
                // Unlistable folder: no sibling clue.
            }
        }
        if (stem.startsWith("libcudnn")) {
            Path up = dir;
            for (int i = 0; i < 4 && up != null; i++, up = up.getParent()) {
                try (Stream<Path> entries = Files.list(up)) {
                    Optional<NumericVersion> v = entries.map(
                                    e -> CUDNN_DIST_INFO.matcher(e.getFileName().toString()))
                            .filter(Matcher::matches)
                            .map(m -> NumericVersion.parse(m.group(1)))
                            .findFirst();
                    if (v.isPresent()) {
                        return v.get();
                    }
                } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
                    // Unlistable: keep going up.
                }
            }
        }
        return null;
    }

    /**
     * Parses {@code ldconfig -p}: lines like
     * {@code libcudart.so.13 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.13}. Only 64-bit
     * x86 entries count (a 32-bit library cannot be loaded into this JVM); the first entry of a name wins.
     */
    public static Map<String, Path> parseLdconfig(String output) {
        Map<String, Path> out = new LinkedHashMap<>();
        for (String line : output.split("\n")) {
            Matcher m = LDCONFIG_LINE.matcher(line);
            if (m.matches() && m.group(2).contains("x86-64")) {
                out.putIfAbsent(m.group(1), Path.of(m.group(3)));
            }
        }
        return out;
    }

    /** {@code ldconfig -p}'s output, or "" if it is not installed or fails. */
    static String runLdconfig() {
        for (String exe : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig")) {
            if (Files.isExecutable(Path.of(exe))) {
                Optional<String> out = Processes.run(List.of(exe, "-p"), 5, TimeUnit.SECONDS);
                if (out.isPresent()) {
                    return out.get();
                }
            }
        }
        return "";
    }

    /** Reads a small text file, or "" if it cannot be read. */
    static String readOrEmpty(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
