package io.github.flux4j.core.doctor;

import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.Loader;
import org.jspecify.annotations.Nullable;

/**
 * Which JavaCPP natives jars are on the class path, and which LibTorch build JavaCPP will load.
 *
 * <p>flux-core depends on the platform-neutral classes only; the application adds one natives
 * block (README.md, "GPU"): {@code pytorch} with classifier {@code linux-x86_64} (CPU) or
 * {@code linux-x86_64-gpu} (CUDA), plus the {@code javacpp} and {@code openblas} natives, plus
 * {@code cuda} natives for the GPU. A jar is recognised by the JNI library it holds
 * ({@code org/bytedeco/pytorch/linux-x86_64-gpu/libjnitorch.so} and so on), so this works for
 * shaded and repackaged class paths too.
 *
 * @param platform JavaCPP's platform name, such as {@code linux-x86_64}
 * @param cpu where the CPU LibTorch natives were found (jar files or folders), usually none or one
 * @param gpu where the GPU ({@code -gpu}) LibTorch natives were found
 * @param javacpp where JavaCPP's own natives were found
 * @param openblas where the OpenBLAS natives were found
 * @param cuda where the CUDA presets' natives ({@code jnicudart}) were found
 * @param extension the {@code org.bytedeco.javacpp.platform.extension} system property, or null if unset
 */
public record PytorchNatives(
        String platform,
        List<String> cpu,
        List<String> gpu,
        List<String> javacpp,
        List<String> openblas,
        List<String> cuda,
        @Nullable String extension) {
    /** JavaCPP's switch between the {@code -gpu} and the plain natives. */
    public static final String EXTENSION_PROPERTY = "org.bytedeco.javacpp.platform.extension";

    /** The LibTorch build that will load. */
    public enum Variant {
        /** The CPU natives ({@code pytorch:linux-x86_64}). */
        CPU,
        /** The CUDA natives ({@code pytorch:linux-x86_64-gpu}). */
        GPU,
        /** No LibTorch natives for this platform. */
        NONE
    }

    /** Copies the lists. */
    public PytorchNatives {
        cpu = List.copyOf(cpu);
        gpu = List.copyOf(gpu);
        javacpp = List.copyOf(javacpp);
        openblas = List.copyOf(openblas);
        cuda = List.copyOf(cuda);
    }

    /** Looks at this class's class loader, for JavaCPP's platform and the current system property. */
    public static PytorchNatives find() {
        ClassLoader loader = PytorchNatives.class.getClassLoader();
        return find(
                loader == null ? ClassLoader.getSystemClassLoader() : loader,
                Loader.getPlatform(),
                System.getProperty(EXTENSION_PROPERTY));
    }

    /**
     * Looks for the natives of {@code platform} in {@code loader}.
     *
     * @param extension the value of {@link #EXTENSION_PROPERTY}, or null if unset
     */
    public static PytorchNatives find(ClassLoader loader, String platform, @Nullable String extension) {
        return new PytorchNatives(
                platform,
                locate(loader, "org/bytedeco/pytorch/" + platform + "/", "jnitorch"),
                locate(loader, "org/bytedeco/pytorch/" + platform + "-gpu/", "jnitorch"),
                locate(loader, "org/bytedeco/javacpp/" + platform + "/", "jnijavacpp"),
                locate(loader, "org/bytedeco/openblas/" + platform + "/", "jniopenblas_nolapack"),
                locate(loader, "org/bytedeco/cuda/" + platform + "/", "jnicudart"),
                extension);
    }

    /**
     * The build JavaCPP will load: with the property unset it tries the {@code -gpu} natives first;
     * set to {@code -gpu} it prefers them; set to anything else (the empty string) it takes the
     * plain ones.
     */
    public Variant variant() {
        boolean preferGpu = extension == null || extension.equals("-gpu");
        if (preferGpu && !gpu.isEmpty()) {
            return Variant.GPU;
        }
        if (!cpu.isEmpty()) {
            return Variant.CPU;
        }
        return Variant.NONE;
    }

    /**
     * What keeps LibTorch from loading at all, one sentence each, with the dependency that fixes
     * it; empty when it can load. Both natives jars without {@link #EXTENSION_PROPERTY} is an
     * error: the {@code -gpu} build would load and need the CUDA libraries even for CPU work.
     */
    public List<String> loadProblems() {
        List<String> problems = new ArrayList<>();
        String pytorch = "org.bytedeco:pytorch:" + versionOf("org.bytedeco.pytorch.Tensor", "2.10.0-1.5.13");
        if (cpu.isEmpty() && gpu.isEmpty()) {
            problems.add("No LibTorch natives for " + platform + " on the class path: add " + pytorch
                    + " with classifier " + platform + " (CPU) or " + platform
                    + "-gpu (CUDA), as in README.md, section GPU.");
        } else if (!cpu.isEmpty() && !gpu.isEmpty() && extension == null) {
            problems.add("Both LibTorch natives jars are on the class path (" + names(cpu) + " and "
                    + names(gpu) + "): JavaCPP would load the -gpu build, which needs the CUDA libraries"
                    + " even on the CPU. Keep one natives block (README.md, section GPU), or choose with -D"
                    + EXTENSION_PROPERTY + "=-gpu (CUDA) or -D" + EXTENSION_PROPERTY + "= (CPU).");
        }
        if (javacpp.isEmpty()) {
            problems.add("JavaCPP's natives for " + platform + " are not on the class path: add org.bytedeco:javacpp:"
                    + versionOf("org.bytedeco.javacpp.Loader", "1.5.13") + " with classifier " + platform + ".");
        }
        if (openblas.isEmpty()) {
            problems.add("OpenBLAS natives for " + platform + " are not on the class path (LibTorch links"
                    + " libopenblas.so.0): add org.bytedeco:openblas:"
                    + versionOf("org.bytedeco.openblas.global.openblas_nolapack", "0.3.31-1.5.13")
                    + " with classifier " + platform + ".");
        }
        return problems;
    }

    /**
     * What keeps the CUDA side of the GPU natives from loading, beyond the CUDA libraries
     * themselves: the {@code org.bytedeco:cuda} natives ({@code jnicudart}). Empty for the CPU build.
     */
    public List<String> cudaProblems() {
        if (variant() != Variant.GPU || !cuda.isEmpty()) {
            return List.of();
        }
        return List.of("The CUDA presets' natives are not on the class path (torch_cuda needs jnicudart): add"
                + " org.bytedeco:cuda:" + versionOf("org.bytedeco.cuda.global.cudart", "13.1-9.19-1.5.13")
                + " with classifier " + platform + ".");
    }

    /** One line per natives family: where it was found, or "missing". */
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        lines.add("pytorch " + platform + ":     " + orMissing(cpu));
        lines.add("pytorch " + platform + "-gpu: " + orMissing(gpu));
        lines.add("javacpp " + platform + ":     " + orMissing(javacpp));
        lines.add("openblas " + platform + ":    " + orMissing(openblas));
        lines.add("cuda " + platform + ":        " + orMissing(cuda));
        String ext = extension == null ? "unset" : "'" + extension + "'";
        lines.add("loads: " + variant().name().toLowerCase(Locale.ROOT) + " (" + EXTENSION_PROPERTY + " " + ext + ")");
        return lines;
    }

    private static String orMissing(List<String> where) {
        return where.isEmpty() ? "missing" : String.join(", ", where);
    }

    private static String names(List<String> where) {
        List<String> names = new ArrayList<>();
        for (String w : where) {
            names.add(w.substring(w.lastIndexOf('/') + 1));
        }
        return String.join(", ", names);
    }

    /** The manifest version of the jar holding {@code className}, without initialising the class. */
    static String versionOf(String className, String fallback) {
        try {
            Package p = Class.forName(className, false, PytorchNatives.class.getClassLoader())
                    .getPackage();
            String v = p == null ? null : p.getImplementationVersion();
            return v == null ? fallback : v;
        } catch (ClassNotFoundException | LinkageError e) {
            return fallback;
        }
    }

    /** The jars (or folders) holding {@code folder + lib<name>.so}, deduplicated, in class path order. */
    private static List<String> locate(ClassLoader loader, String folder, String library) {
        String resource = folder + System.mapLibraryName(library);
        List<String> out = new ArrayList<>();
        try {
            for (URL url : Collections.list(loader.getResources(resource))) {
                String where = containerOf(url, resource);
                if (!out.contains(where)) {
                    out.add(where);
                }
            }
        } catch (java.io.IOException e) {
            // An unreadable class path entry: treat it as absent; loading would fail on it too.
        }
        return out;
    }

    /** {@code jar:file:/a/b.jar!/x/y} becomes {@code /a/b.jar}; a folder URL becomes the folder. */
    static String containerOf(URL url, String resource) {
        String s = url.toString();
        if (s.startsWith("jar:")) {
            int bang = s.indexOf("!/");
            s = s.substring(4, bang < 0 ? s.length() : bang);
        } else if (s.endsWith(resource)) {
            s = s.substring(0, s.length() - resource.length());
        }
        if (s.startsWith("file:")) {
            try {
                return java.nio.file.Path.of(new java.net.URI(s)).toString();
            } catch (java.net.URISyntaxException | IllegalArgumentException e) {
                return s.substring("file:".length());
            }
        }
        return s;
    }
}
