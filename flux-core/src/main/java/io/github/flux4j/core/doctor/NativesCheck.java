package io.github.flux4j.core.doctor;

import java.util.List;
import java.util.Map;

/**
 * The checks {@link io.github.flux4j.core.torch.Torch#init()} runs before LibTorch loads, so that a
 * wrong natives mix fails with a message that says what to change rather than an
 * {@link UnsatisfiedLinkError} (or, with both natives jars, a silent mix of CPU and GPU libraries
 * that fails later).
 */
public final class NativesCheck {
    private NativesCheck() {}

    /** {@code -Dflux4j.nativesCheck=false} skips {@link #beforeTorchLoads()}. */
    public static final String SKIP_PROPERTY = "flux4j.nativesCheck";

    /**
     * Checks the natives jars and, for the GPU natives, preloads the {@value LibrarySearch#ENV}
     * libraries and checks the CUDA libraries that the GPU {@code libtorch_cpu.so} links
     * ({@code libcudart.so.13}, {@code libcupti.so.13}).
     *
     * @throws IllegalStateException naming every problem found (no natives jar, both natives jars,
     *     JavaCPP's or OpenBLAS's natives missing, GPU natives without their CUDA libraries)
     * @throws IllegalArgumentException if {@value LibrarySearch#ENV} names a folder that does not exist
     */
    public static void beforeTorchLoads() {
        if ("false".equalsIgnoreCase(System.getProperty(SKIP_PROPERTY, "true").trim())) {
            return; // an escape hatch for class paths this check misreads (custom packaging)
        }
        PytorchNatives natives = PytorchNatives.find();
        List<String> problems = natives.loadProblems();
        if (!problems.isEmpty()) {
            throw new IllegalStateException("LibTorch cannot load:\n  - " + String.join("\n  - ", problems));
        }
        if (natives.variant() != PytorchNatives.Variant.GPU) {
            return;
        }
        CudaLibraryPreloader.preloadFromEnvironment();
        LibrarySearch search = LibrarySearch.system();
        Map<CudaLibrary, LibrarySearch.Found> found = search.find();
        boolean loadable = true;
        for (CudaLibrary lib : CudaLibrary.values()) {
            if (lib.need() == CudaLibrary.Need.LOAD && !found.containsKey(lib)) {
                loadable = false;
            }
        }
        if (!loadable) {
            CudaCheck.Report report =
                    CudaCheck.evaluate(natives, NvidiaDriver.probe(), found, CudaCheck.describeSearch(search));
            throw new IllegalStateException("The GPU LibTorch natives (" + String.join(", ", natives.gpu())
                    + ") need libcudart.so.13 and libcupti.so.13 even on the CPU. For CPU only, use the CPU natives"
                    + " block instead (README.md, section GPU).\n" + report.message());
        }
    }

    /**
     * The CUDA check's message when the GPU natives are on the class path but CUDA is not ready,
     * for a warning before the first CUDA use; empty with the CPU natives (no CUDA expected) or
     * when CUDA is ready. Never throws.
     */
    public static java.util.Optional<String> beforeCuda() {
        try {
            if (PytorchNatives.find().variant() != PytorchNatives.Variant.GPU) {
                return java.util.Optional.empty();
            }
            CudaLibraryPreloader.preloadFromEnvironment();
            CudaCheck.Report report = CudaCheck.run();
            return report.ready() ? java.util.Optional.empty() : java.util.Optional.of(report.message());
        } catch (RuntimeException e) {
            return java.util.Optional.of("The CUDA check failed: " + e.getMessage());
        }
    }
}
