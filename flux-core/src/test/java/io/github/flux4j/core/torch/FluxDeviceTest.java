package io.github.flux4j.core.torch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FluxDeviceTest {

    @Test
    void parsesPyTorchSpellings() {
        assertThat(FluxDevice.parse("cpu")).isEqualTo(FluxDevice.cpu());
        assertThat(FluxDevice.parse(" CPU ")).isEqualTo(FluxDevice.cpu());
        assertThat(FluxDevice.parse("cuda")).isEqualTo(FluxDevice.cuda(0));
        assertThat(FluxDevice.parse("cuda:1")).isEqualTo(new FluxDevice(FluxDevice.Kind.CUDA, 1));
        assertThat(FluxDevice.parse("CUDA:127").index()).isEqualTo(127);
        assertThat(FluxDevice.parse("cuda:1").isCuda()).isTrue();
        assertThat(FluxDevice.cpu().isCuda()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(
            strings = {"", "gpu", "cuda:", "cuda:-1", "cuda:128", "cuda:1x", "cuda 1", "cpu:0", "mps", "cuda:0001"})
    void rejectsAnythingElseNamingTheText(String spec) {
        assertThatThrownBy(() -> FluxDevice.parse(spec))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'" + spec + "'")
                .hasMessageContaining("cpu, cuda, cuda:N");
    }

    @Test
    void toStringRoundTrips() {
        for (FluxDevice d : new FluxDevice[] {FluxDevice.cpu(), FluxDevice.cuda(0), FluxDevice.cuda(3)}) {
            assertThat(FluxDevice.parse(d.toString())).isEqualTo(d);
        }
        assertThat(FluxDevice.cuda(2)).hasToString("cuda:2");
    }

    @Test
    void constructorValidates() {
        assertThatThrownBy(() -> new FluxDevice(FluxDevice.Kind.CPU, 1))
                .hasMessageContaining("CPU device index must be 0");
        assertThatThrownBy(() -> FluxDevice.cuda(-1)).hasMessageContaining("0..127");
        assertThatThrownBy(() -> FluxDevice.cuda(200)).hasMessageContaining("0..127");
    }

    @Test
    void toTorchMakesTheMatchingNativeDevice() {
        try (PointerScope scope = new PointerScope()) {
            Device cpu = FluxDevice.cpu().toTorch();
            assertThat(cpu.is_cpu()).isTrue();
            Device cuda = FluxDevice.cuda(1).toTorch(); // constructing does not need a GPU
            assertThat(cuda.type().intern()).isEqualTo(DeviceType.CUDA);
            assertThat(cuda.index()).isEqualTo((byte) 1);
        }
    }

    @Test
    void cudaProbeNeverThrowsAndIsStable() {
        boolean first = FluxDevice.cudaAvailable();
        assertThat(FluxDevice.cudaAvailable()).isEqualTo(first);
        // a reason exactly when CUDA is not usable
        assertThat(FluxDevice.cudaUnavailableReason().isPresent()).isEqualTo(!first);
        if (!first && !isGpuBuild()) {
            assertThat(FluxDevice.cudaUnavailableReason())
                    .hasValue("this build has LibTorch's CPU natives only (the CUDA classes are not on the classpath)");
        }
        if (!first) {
            // CPU natives (the default build): the helpers that need CUDA are harmless no-ops.
            Torch.preferCudnnAttention(FluxDevice.cpu());
            Torch.emptyCudaCache();
        }
    }

    /** Whether the CUDA classes (org.bytedeco:cuda, the -Pcuda build) are on the classpath. */
    private static boolean isGpuBuild() {
        try {
            Class.forName("org.bytedeco.cuda.presets.cudart", false, FluxDeviceTest.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
