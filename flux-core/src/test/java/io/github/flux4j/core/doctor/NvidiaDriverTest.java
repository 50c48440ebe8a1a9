package io.github.flux4j.core.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class NvidiaDriverTest {
    @Test
    void readsTheH200HostsDriverAndGpu() throws Exception {
        NvidiaDriver d = NvidiaDriver.from(
                GpuHostFixture.read("proc-driver-nvidia-version.txt"), GpuHostFixture.read("nvidia-smi.csv"));
        assertThat(d.version()).isEqualTo("580.159.04");
        assertThat(d.versionSource()).isEqualTo("/proc/driver/nvidia/version");
        assertThat(d.gpus())
                .containsExactly(new NvidiaDriver.Gpu(0, "NVIDIA H200", NumericVersion.parse("9.0"), 143771));
    }

    @Test
    void readsTheProprietaryModulesBanner() {
        NvidiaDriver d = NvidiaDriver.from(
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  575.57.08  Sat May 24 07:21:18 UTC 2025\n"
                        + "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n",
                null);
        assertThat(d.version()).isEqualTo("575.57.08");
        assertThat(d.gpus()).isEmpty();
        assertThat(d.gpuSource()).contains("nvidia-smi is not on the PATH");
    }

    @Test
    void withoutDriverOrNvidiaSmiSaysWhy() {
        NvidiaDriver d = NvidiaDriver.from(null, null);
        assertThat(d.version()).isNull();
        assertThat(d.versionSource()).contains("/proc/driver/nvidia/version does not exist");
        assertThat(d.parsedVersion()).isEmpty();
    }

    @Test
    void fallsBackToNvidiaSmisDriverVersionAndSkipsNonGpuLines() {
        NvidiaDriver d = NvidiaDriver.from(
                null,
                "WARNING: infoROM is corrupted at gpu 0000:01:00.0\n0, Tesla V100-SXM2-16GB, 7.0, 535.183.01, 16384\n");
        assertThat(d.version()).isEqualTo("535.183.01");
        assertThat(d.versionSource()).isEqualTo("nvidia-smi");
        assertThat(d.gpus()).singleElement().satisfies(g -> {
            assertThat(g.name()).isEqualTo("Tesla V100-SXM2-16GB");
            assertThat(g.computeCapability()).isEqualTo(NumericVersion.parse("7.0"));
        });
    }
}
