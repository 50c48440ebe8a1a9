package io.github.flux4j.core.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaCheckTest {
    private static final String SITE = "/opt/venv/site-packages/nvidia";
    private static final List<String> GPU_JARS = List.of("pytorch-gpu.jar");

    @TempDir
    Path tmp;

    private static PytorchNatives natives(boolean gpu) {
        return new PytorchNatives(
                "linux-x86_64",
                gpu ? List.of() : List.of("pytorch-cpu.jar"),
                gpu ? GPU_JARS : List.of(),
                List.of("javacpp.jar"),
                List.of("openblas.jar"),
                gpu ? List.of("cuda.jar") : List.of(),
                null);
    }

    private Map<CudaLibrary, LibrarySearch.Found> pipLibrariesAndDriver() throws Exception {
        Path nvidia = GpuHostFixture.sitePackages(tmp).resolve("nvidia");
        Map<CudaLibrary, LibrarySearch.Found> found =
                new EnumMap<>(new LibrarySearch(List.of(nvidia), List.of(), List.of(), Map.of(), List.of()).find());
        found.put(
                CudaLibrary.DRIVER,
                new LibrarySearch.Found(
                        CudaLibrary.DRIVER,
                        Path.of("/usr/local/nvidia/lib64/libcuda.so.1"),
                        "LD_LIBRARY_PATH",
                        NumericVersion.parse("580.159.04")));
        return found;
    }

    @Test
    void theH200HostIsReady() throws Exception {
        NvidiaDriver driver = NvidiaDriver.from(
                GpuHostFixture.read("proc-driver-nvidia-version.txt"), GpuHostFixture.read("nvidia-smi.csv"));
        CudaCheck.Report r = CudaCheck.evaluate(natives(true), driver, pipLibrariesAndDriver(), List.of("test"));
        assertThat(r.problems()).isEmpty();
        assertThat(r.warnings()).isEmpty();
        assertThat(r.ready()).isTrue();
        assertThat(r.message()).startsWith("CUDA is ready (GPU natives, driver 580.159.04");
        assertThat(r.howToFix()).isEmpty();
        assertThat(r.describe()).anySatisfy(l -> assertThat(l).contains("GPU 0: NVIDIA H200, compute capability 9.0"));
    }

    @Test
    void aCpuOnlyMachineGetsEveryMissingPieceInOneMessage() {
        NvidiaDriver none = NvidiaDriver.from(null, null);
        CudaCheck.Report r = CudaCheck.evaluate(natives(false), none, Map.of(), List.of("test"));
        assertThat(r.ready()).isFalse();
        String m = r.message();
        assertThat(m).startsWith("CUDA cannot be used:");
        assertThat(m)
                .contains(
                        "The CPU LibTorch natives are on the class path",
                        "linux-x86_64-gpu",
                        "No NVIDIA driver",
                        "580 or newer");
        for (CudaLibrary lib : CudaLibrary.values()) {
            assertThat(m).contains(lib.fileName());
        }
        assertThat(m).contains("libnvrtc.so.13 not found"); // a warning, not a problem
        assertThat(m)
                .contains(
                        "python3 -m pip install --target ~/flux4j-cuda 'nvidia-cuda-runtime>=13,<14'",
                        "'nvidia-cudnn-cu13>=9.19'",
                        "'nvidia-nccl-cu13'",
                        "export FLUX4J_CUDA_LIBS=~/flux4j-cuda/nvidia");
        // One requirement per wheel, even though cuDNN has five libraries.
        assertThat(m.split("nvidia-cudnn-cu13", -1)).hasSize(2);
    }

    @Test
    void anOldDriverAnOldGpuAndAnOldCudnnAreEachNamed() throws Exception {
        NvidiaDriver driver = NvidiaDriver.from(
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n",
                "0, Tesla V100-SXM2-16GB, 7.0, 535.183.01, 16384\n1, NVIDIA A100-SXM4-80GB, 8.0, 535.183.01, 81920\n");
        Map<CudaLibrary, LibrarySearch.Found> found = pipLibrariesAndDriver();
        found.put(
                CudaLibrary.CUDNN,
                new LibrarySearch.Found(
                        CudaLibrary.CUDNN,
                        Path.of(SITE, "cudnn/lib/libcudnn.so.9"),
                        LibrarySearch.ENV,
                        NumericVersion.parse("9.10.2.21")));
        CudaCheck.Report r = CudaCheck.evaluate(natives(true), driver, found, List.of("test"));
        assertThat(r.problems())
                .containsExactly(
                        "NVIDIA driver 535.183.01 is too old: CUDA 13 needs 580 or newer (https://www.nvidia.com/drivers).",
                        "GPU 0 (Tesla V100-SXM2-16GB) has compute capability 7.0; CUDA 13 and these natives (kernels for"
                                + " sm_75, sm_80, sm_90, sm_100, sm_120) need 7.5 (Turing) or newer.",
                        "cuDNN 9.10.2.21 (" + SITE
                                + "/cudnn/lib/libcudnn.so.9) is too old: these natives need 9.19 or newer.");
        assertThat(r.howToFix()).contains("'nvidia-cudnn-cu13>=9.19'").doesNotContain("nvidia-cublas");
    }

    @Test
    void anUnknownCudnnVersionIsAWarning() throws Exception {
        NvidiaDriver driver = NvidiaDriver.from(GpuHostFixture.read("proc-driver-nvidia-version.txt"), null);
        Map<CudaLibrary, LibrarySearch.Found> found = pipLibrariesAndDriver();
        found.put(
                CudaLibrary.CUDNN,
                new LibrarySearch.Found(CudaLibrary.CUDNN, Path.of("/usr/lib/libcudnn.so.9"), "default", null));
        CudaCheck.Report r = CudaCheck.evaluate(natives(true), driver, found, List.of("test"));
        assertThat(r.ready()).isTrue();
        assertThat(r.warnings())
                .containsExactly(
                        "GPU compute capability not checked: nvidia-smi is not on the PATH, so GPU models and compute"
                                + " capabilities are unknown.",
                        "cuDNN version unknown (/usr/lib/libcudnn.so.9 names only the major version): it must be 9.19 or newer.");
    }
}
