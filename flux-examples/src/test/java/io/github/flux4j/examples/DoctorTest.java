package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.doctor.CudaLibrary;
import io.github.flux4j.core.doctor.PytorchNatives;
import io.github.flux4j.core.torch.FluxDevice;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class DoctorTest {
    @Test
    void reportsNativesCpuLibTorchCudaAndTheDefaultDevice() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new PrintWriter(out), new PrintWriter(err), "doctor");
        String text = out.toString();

        assertThat(status).isZero();
        assertThat(err.toString()).isEmpty();
        assertThat(text).startsWith("flux4j ");
        assertThat(text)
                .contains(
                        "Natives on the class path:",
                        "pytorch linux-x86_64:",
                        "CPU: ",
                        "  has:   ",
                        "LibTorch: loads",
                        "CPU kernels: ",
                        "CUDA:",
                        "  driver: ",
                        "libraries searched in: FLUX4J_CUDA_LIBS");
        for (CudaLibrary lib : CudaLibrary.values()) {
            assertThat(text).contains(lib.fileName());
        }
        // This build's natives decide what the last lines say.
        boolean gpuNatives = PytorchNatives.find().variant() == PytorchNatives.Variant.GPU;
        if (!gpuNatives) {
            assertThat(text)
                    .contains(
                            "loads: cpu",
                            "CUDA cannot be used:",
                            "The CPU LibTorch natives are on the class path",
                            "Default device: cpu (what generate uses without --device)");
        } else {
            String device = FluxDevice.cudaAvailable() ? "cuda:0" : "cpu";
            assertThat(text).contains("loads: gpu", "Default device: " + device);
        }
    }

    @Test
    void aMissingCudaLibsFolderIsReportedNotThrown() {
        String before = System.getProperty("flux4j.cuda.libs");
        System.setProperty("flux4j.cuda.libs", "/no/such/site-packages/nvidia");
        try {
            StringWriter out = new StringWriter();
            int status = Main.run(new PrintWriter(out), new PrintWriter(new StringWriter()), "doctor");
            assertThat(status).isZero();
            assertThat(out.toString())
                    .contains(
                            "CUDA cannot be used:\n    - FLUX4J_CUDA_LIBS / -Dflux4j.cuda.libs:"
                                    + " '/no/such/site-packages/nvidia' is not a folder (expected e.g. .../site-packages/nvidia)");
        } finally {
            if (before == null) {
                System.clearProperty("flux4j.cuda.libs");
            } else {
                System.setProperty("flux4j.cuda.libs", before);
            }
        }
    }

    @Test
    void versionComesFromTheManifestOrSaysDevelopmentBuild() {
        StringWriter out = new StringWriter();
        assertThat(Main.run(new PrintWriter(out), new PrintWriter(new StringWriter()), "--version"))
                .isZero();
        // Tests run from class folders, which have no manifest.
        assertThat(out.toString().strip().lines().findFirst().orElse("")).isEqualTo("flux4j " + FluxVersion.version());
        assertThat(FluxVersion.version()).matches("\\d+\\.\\d+\\.\\d+(-SNAPSHOT)?");
    }
}
