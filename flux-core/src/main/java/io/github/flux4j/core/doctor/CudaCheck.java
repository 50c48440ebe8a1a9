package io.github.flux4j.core.doctor;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Whether CUDA can be used, and if not, everything that is missing in one message: the GPU natives,
 * the driver version against {@link #MIN_DRIVER}, each GPU's compute capability against
 * {@link #MIN_COMPUTE_CAPABILITY}, each missing CUDA library by file name, cuDNN's version against
 * {@link #MIN_CUDNN}, and where to get what is missing (the pip wheels or NVIDIA's installers).
 *
 * <pre>{@code
 * CudaCheck.Report r = CudaCheck.run();
 * if (!r.ready()) System.err.println(r.message());
 * }</pre>
 */
public final class CudaCheck {
    /**
     * The oldest driver that runs CUDA 13 applications: the 580 branch (CUDA 13.0; 13.x minor
     * versions run on it through minor-version compatibility).
     */
    public static final NumericVersion MIN_DRIVER = NumericVersion.parse("580");
    /**
     * The oldest GPU generation: CUDA 13 dropped Maxwell, Pascal and Volta, and the LibTorch natives
     * hold kernels for {@value #KERNEL_ARCHITECTURES} only, so compute capability 7.5 (Turing) or newer.
     */
    public static final NumericVersion MIN_COMPUTE_CAPABILITY = NumericVersion.parse("7.5");
    /** The architectures {@code libtorch_cuda.so} of {@code pytorch:2.10.0-1.5.13:linux-x86_64-gpu} has kernels for. */
    public static final String KERNEL_ARCHITECTURES = "sm_75, sm_80, sm_90, sm_100, sm_120";
    /** The cuDNN the presets ({@code cuda:13.1-9.19-1.5.13}) are built against, hence the oldest runtime cuDNN. */
    public static final NumericVersion MIN_CUDNN = NumericVersion.parse("9.19");

    private CudaCheck() {}

    /**
     * The check's findings.
     *
     * @param natives the natives jars on the class path
     * @param driver the NVIDIA driver and GPUs
     * @param found the CUDA libraries found, by library
     * @param searched where libraries were looked for, one short phrase each
     * @param problems what keeps CUDA from working, one sentence each; empty when ready
     * @param warnings what may limit it (a library for some kernels missing, a version that cannot be told)
     */
    public record Report(
            PytorchNatives natives,
            NvidiaDriver driver,
            Map<CudaLibrary, LibrarySearch.Found> found,
            List<String> searched,
            List<String> problems,
            List<String> warnings) {
        /** Copies the collections. */
        public Report {
            found = Map.copyOf(found);
            searched = List.copyOf(searched);
            problems = List.copyOf(problems);
            warnings = List.copyOf(warnings);
        }

        /** True when nothing keeps CUDA from working (the GPU may still be busy or absent at run time). */
        public boolean ready() {
            return problems.isEmpty();
        }

        /** The libraries of {@code need} that were not found. */
        public List<CudaLibrary> missing(CudaLibrary.Need need) {
            List<CudaLibrary> out = new ArrayList<>();
            for (CudaLibrary lib : CudaLibrary.values()) {
                if (lib.need() == need && !found.containsKey(lib)) {
                    out.add(lib);
                }
            }
            return out;
        }

        /**
         * Everything in one message: "CUDA cannot be used:" and each problem, the warnings, then how to
         * fix it; or "CUDA is ready" with the warnings.
         */
        public String message() {
            StringBuilder sb = new StringBuilder();
            if (ready()) {
                sb.append("CUDA is ready (GPU natives, driver ")
                        .append(driver.version())
                        .append(", all CUDA libraries found).");
            } else {
                sb.append("CUDA cannot be used:");
                for (String p : problems) {
                    sb.append("\n  - ").append(p);
                }
            }
            for (String w : warnings) {
                sb.append("\n  (warning) ").append(w);
            }
            String fix = howToFix();
            if (!fix.isEmpty()) {
                sb.append('\n').append(fix);
            }
            return sb.toString();
        }

        /** The pip command (and the alternative) for the missing libraries; "" when none is missing. */
        public String howToFix() {
            Set<String> requirements = new LinkedHashSet<>();
            for (CudaLibrary lib : CudaLibrary.values()) {
                LibrarySearch.Found f = found.get(lib);
                NumericVersion version = f == null ? null : f.version();
                boolean outdatedCudnn = lib.isCudnn() && version != null && !version.atLeast(MIN_CUDNN);
                if ((!found.containsKey(lib) || outdatedCudnn) && lib.pipRequirement() != null) {
                    requirements.add(lib.pipRequirement());
                }
            }
            if (requirements.isEmpty()) {
                return "";
            }
            StringBuilder cmd = new StringBuilder();
            for (String r : requirements) {
                cmd.append(" '").append(r).append('\'');
            }
            return "Get the libraries from PyPI (NVIDIA's CUDA 13 wheels; no root needed):\n"
                    + "    python3 -m pip install --target ~/flux4j-cuda" + cmd + "\n"
                    + "    export " + LibrarySearch.ENV + "=~/flux4j-cuda/nvidia      (or -D" + LibrarySearch.PROPERTY
                    + "=...; flux4j then loads them by path)\n"
                    + "  or install the CUDA 13 toolkit (https://developer.nvidia.com/cuda-downloads), cuDNN "
                    + MIN_CUDNN + " or newer for CUDA 13 (https://developer.nvidia.com/cudnn) and NCCL"
                    + " (https://developer.nvidia.com/nccl), and put their lib folders on LD_LIBRARY_PATH."
                    + " See docs/gpu-setup.md.";
        }

        /** The findings as lines for {@code flux doctor}: driver, GPUs, each library and where it is. */
        public List<String> describe() {
            List<String> lines = new ArrayList<>();
            lines.add("driver: " + (driver.version() == null ? "none" : driver.version()) + " ("
                    + driver.versionSource() + "; CUDA 13 needs " + MIN_DRIVER + " or newer)");
            if (driver.gpus().isEmpty()) {
                lines.add("GPUs: none listed (" + driver.gpuSource() + ")");
            }
            for (NvidiaDriver.Gpu g : driver.gpus()) {
                lines.add("GPU " + g.index() + ": " + g.name() + ", compute capability "
                        + (g.computeCapability() == null ? "unknown" : g.computeCapability())
                        + (g.memoryMiB() >= 0 ? ", " + g.memoryMiB() + " MiB" : "")
                        + " (needs " + MIN_COMPUTE_CAPABILITY + " or newer)");
            }
            lines.add("libraries searched in: " + String.join("; ", searched));
            for (CudaLibrary lib : CudaLibrary.values()) {
                LibrarySearch.Found f = found.get(lib);
                String where = f == null
                        ? "MISSING" + (lib.need() == CudaLibrary.Need.RECOMMENDED ? " (recommended)" : "")
                        : f.path() + " [" + f.source() + "]" + (f.version() == null ? "" : " version " + f.version());
                lines.add(String.format("  %-24s %s", lib.fileName(), where));
            }
            return lines;
        }
    }

    /**
     * Runs the check on this machine: class path, driver, {@code nvidia-smi}, library folders. A
     * {@value LibrarySearch#ENV} folder that does not exist is reported as a problem (the other
     * places are still searched).
     */
    public static Report run() {
        LibrarySearch search = LibrarySearch.system();
        Map<CudaLibrary, LibrarySearch.Found> found;
        String badRoots = null;
        try {
            found = search.find();
        } catch (IllegalArgumentException e) {
            badRoots = e.getMessage();
            found = search.withoutPreloadRoots().find();
        }
        Report r = evaluate(PytorchNatives.find(), NvidiaDriver.probe(), found, describeSearch(search));
        if (badRoots == null) {
            return r;
        }
        List<String> problems = new ArrayList<>(r.problems());
        problems.add(0, badRoots);
        return new Report(r.natives(), r.driver(), r.found(), r.searched(), problems, r.warnings());
    }

    /** Where {@link LibrarySearch#system()} looks, for the report. */
    static List<String> describeSearch(LibrarySearch search) {
        List<String> where = new ArrayList<>();
        where.add(LibrarySearch.ENV + " "
                + (search.preloadRoots().isEmpty()
                        ? "(unset)"
                        : search.preloadRoots().toString()));
        String ld = System.getenv("LD_LIBRARY_PATH");
        where.add("LD_LIBRARY_PATH " + (ld == null || ld.isBlank() ? "(unset)" : ld));
        where.add("/usr/local/cuda/lib64 and the natives' other run paths");
        where.add("the ldconfig cache");
        where.add("/lib64, /usr/lib64, /lib, /usr/lib");
        return where;
    }

    /**
     * Judges the findings (tests pass made-up findings).
     *
     * @param natives the natives jars
     * @param driver the driver and GPUs
     * @param found the libraries found
     * @param searched where they were looked for
     */
    public static Report evaluate(
            PytorchNatives natives,
            NvidiaDriver driver,
            Map<CudaLibrary, LibrarySearch.Found> found,
            List<String> searched) {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        problems.addAll(natives.loadProblems());
        if (natives.variant() == PytorchNatives.Variant.CPU) {
            problems.add("The CPU LibTorch natives are on the class path (pytorch " + natives.platform()
                    + "); CUDA needs the GPU natives block instead: pytorch " + natives.platform()
                    + "-gpu and cuda " + natives.platform() + " (README.md, section GPU; -Pcuda in this build).");
        }
        problems.addAll(natives.cudaProblems());

        if (driver.version() == null) {
            problems.add("No NVIDIA driver: " + driver.versionSource() + ". CUDA 13 needs driver " + MIN_DRIVER
                    + " or newer (https://www.nvidia.com/drivers).");
        } else if (driver.parsedVersion().isPresent()
                && !driver.parsedVersion().get().atLeast(MIN_DRIVER)) {
            problems.add("NVIDIA driver " + driver.version() + " is too old: CUDA 13 needs " + MIN_DRIVER
                    + " or newer (https://www.nvidia.com/drivers).");
        }
        for (NvidiaDriver.Gpu g : driver.gpus()) {
            if (g.computeCapability() != null && !g.computeCapability().atLeast(MIN_COMPUTE_CAPABILITY)) {
                problems.add("GPU " + g.index() + " (" + g.name() + ") has compute capability " + g.computeCapability()
                        + "; CUDA 13 and these natives (kernels for " + KERNEL_ARCHITECTURES + ") need "
                        + MIN_COMPUTE_CAPABILITY + " (Turing) or newer.");
            }
        }
        if (driver.version() != null && driver.gpus().isEmpty()) {
            warnings.add("GPU compute capability not checked: " + driver.gpuSource() + ".");
        }

        List<String> missing = new ArrayList<>();
        for (CudaLibrary lib : CudaLibrary.values()) {
            if (!found.containsKey(lib) && lib.need() != CudaLibrary.Need.RECOMMENDED) {
                missing.add(lib.fileName() + (lib == CudaLibrary.DRIVER ? " (from the NVIDIA driver)" : ""));
            }
        }
        if (!missing.isEmpty()) {
            problems.add("Missing CUDA libraries: " + String.join(", ", missing) + ".");
        }
        for (CudaLibrary lib : CudaLibrary.values()) {
            LibrarySearch.Found f = found.get(lib);
            if (f == null && lib.need() == CudaLibrary.Need.RECOMMENDED) {
                warnings.add(
                        lib.fileName() + " not found: kernels compiled at run time (some cuDNN engines) will fail.");
            }
            if (f != null && lib == CudaLibrary.CUDNN) {
                if (f.version() == null) {
                    warnings.add("cuDNN version unknown (" + f.path() + " names only the major version): it must be "
                            + MIN_CUDNN + " or newer.");
                } else if (!f.version().atLeast(MIN_CUDNN)) {
                    problems.add("cuDNN " + f.version() + " (" + f.path() + ") is too old: these natives need "
                            + MIN_CUDNN + " or newer.");
                }
            }
        }
        return new Report(natives, driver, found, searched, problems, warnings);
    }
}
