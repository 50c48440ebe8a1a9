package io.github.flux4j.core.torch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class TorchTest {

    /**
     * NNPACK is off after init: on CPUs it does not support, every CPU convolution printed
     * "Could not initialize NNPACK! Reason: Unsupported hardware." (flux-examples' FluxCliProcessTest
     * checks a whole generation's standard error).
     */
    @Test
    void initSwitchesNnpackOff() {
        Torch.init();
        assertThat(torch.globalContext().userEnabledNNPACK()).isFalse();
        Torch.init(); // idempotent
        assertThat(torch.globalContext().userEnabledNNPACK()).isFalse();
    }

    @Test
    void dtypeIsComparableWithEquals() {
        Torch.init();
        try (PointerScope scope = new PointerScope()) {
            Tensor t = torch.zeros(new long[] {2}, new org.bytedeco.pytorch.TensorOptions(ScalarType.BFloat16));
            // The raw JavaCPP enum is a fresh object: this is why Torch.dtype exists.
            assertThat(t.scalar_type() == ScalarType.BFloat16).isFalse();
            assertThat(Torch.dtype(t)).isSameAs(ScalarType.BFloat16);
        }
        assertThat(ComputeDtype.defaultDtype()).isEqualTo(ComputeDtype.BF16);
        assertThat(ComputeDtype.F16.scalarType()).isSameAs(ScalarType.Half);
    }

    @Test
    void inferenceGuardIsScopedToTheTryBlock() {
        assertThat(InferenceMode.is_enabled()).isFalse();
        try (InferenceMode im = Torch.inference();
                PointerScope scope = new PointerScope()) {
            assertThat(InferenceMode.is_enabled()).isTrue();
            Tensor y = torch.ones(2, 2).matmul(torch.ones(2, 2));
            assertThat(y.is_inference()).isTrue();
        }
        assertThat(InferenceMode.is_enabled()).isFalse();
    }

    @Test
    void sdpaPriorityCanBeSetAndRestored() {
        List<SdpaBackend> before = Torch.sdpaPriority();
        try {
            Torch.setSdpaPriority(SdpaBackend.CUDNN, SdpaBackend.FLASH);
            assertThat(Torch.sdpaPriority())
                    .containsExactly(
                            SdpaBackend.CUDNN,
                            SdpaBackend.FLASH,
                            SdpaBackend.EFFICIENT,
                            SdpaBackend.MATH,
                            SdpaBackend.OVERRIDEABLE);
        } finally {
            Torch.setSdpaPriority(before.toArray(SdpaBackend[]::new));
        }
        assertThat(Torch.sdpaPriority()).isEqualTo(before);
    }

    @Test
    void forcingTheMathBackendStillComputesAttention() {
        try (PointerScope scope = new PointerScope()) {
            Tensor q = torch.ones(1, 1, 3, 4);
            Tensor reference = torch.scaled_dot_product_attention(q, q, q);
            Torch.enableOnlySdpa(SdpaBackend.MATH);
            try {
                Tensor math = torch.scaled_dot_product_attention(q, q, q);
                assertThat(math.equal(reference)).isTrue();
                Torch.enableOnlySdpa(SdpaBackend.CUDNN); // CUDA-only: nothing left on the CPU
                assertThatThrownBy(() -> torch.scaled_dot_product_attention(q, q, q))
                        .hasMessageContaining("No viable backend");
            } finally {
                Torch.enableAllSdpa();
            }
            assertThat(torch.scaled_dot_product_attention(q, q, q).equal(reference))
                    .isTrue();
        }
    }

    @Test
    void threadsSetting() {
        int before = Torch.intraOpThreads();
        assertThat(before).isPositive();
        assertThatThrownBy(() -> Torch.setIntraOpThreads(0)).hasMessageContaining(">= 1");
        Torch.setIntraOpThreads(before);
        assertThat(Torch.intraOpThreads()).isEqualTo(before);
    }

    @Test
    void threadsSettingLimitsOpenBlasToo() {
        int torchBefore = Torch.intraOpThreads();
        int blasBefore = openblas_nolapack.blas_get_num_threads();
        try {
            Torch.setIntraOpThreads(2);
            assertThat(Torch.intraOpThreads()).isEqualTo(2);
            assertThat(openblas_nolapack.blas_get_num_threads()).isEqualTo(2);
            Torch.setIntraOpThreads(1);
            assertThat(Torch.intraOpThreads()).isEqualTo(1);
            assertThat(openblas_nolapack.blas_get_num_threads()).isEqualTo(1);
        } finally {
            torch.set_num_threads(torchBefore);
            openblas_nolapack.blas_set_num_threads(blasBefore);
        }
        assertThat(openblas_nolapack.blas_get_num_threads()).isEqualTo(blasBefore);
    }
}
