package io.github.flux4j.core.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CpuFeaturesTest {
    @Test
    void readsTheGpuHostsXeonFlags() throws Exception {
        CpuFeatures cpu = CpuFeatures.parse(GpuHostFixture.read("cpuinfo.txt"));
        assertThat(cpu.model()).isEqualTo("Intel(R) Xeon(R) Processor");
        // Sapphire Rapids: every notable flag, AMX included.
        assertThat(cpu.present()).containsExactlyElementsOf(CpuFeatures.NOTABLE);
        assertThat(cpu.absent()).isEmpty();
    }

    @Test
    void reportsWhatIsMissing() {
        CpuFeatures cpu =
                CpuFeatures.parse("processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
                        + "processor\t: 1\nmodel name\t: Old CPU\nflags\t\t: fpu\n");
        assertThat(cpu.present()).containsExactly("sse4_2", "avx", "avx2", "fma");
        assertThat(cpu.absent()).contains("avx512f", "avx512_bf16", "amx_tile");
        assertThat(CpuFeatures.parse("").model()).isEqualTo("unknown");
    }
}
