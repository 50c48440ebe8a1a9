package io.github.flux4j.core.cuda;

import static io.github.flux4j.core.quant.TensorData.bits;
import static io.github.flux4j.core.quant.TensorData.toFloats;
import static io.github.flux4j.core.testing.TextRefs.relError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.quant.TensorData;
import io.github.flux4j.core.torch.FluxDevice;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link CublasLt}'s GEMMs against LibTorch's own calls and against float64 on the same operands:
 * plain, GELU-bias and accumulating (the joined linear) epilogues, in bfloat16 and float16. cuBLASLt's algorithm may add in another order than LibTorch's, so the check is that both
 * are as close to float64 as the output dtype's rounding allows. Skipped without a GPU.
 */
class CublasLtTest {
    private static final FluxDevice GPU = FluxDevice.cuda(0);
    private static final ScalarType[] DTYPES = {ScalarType.BFloat16, ScalarType.Half};

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
        System.setProperty(CublasLt.PROPERTY, "true"); // whatever the default, this class tests the path
        try (PointerScope scope = new PointerScope()) {
            Tensor probe = random(0, 1, ScalarType.BFloat16, 16, 16);
            boolean available = CublasLt.forDevice(probe).isPresent();
            // why, where it cannot run: in the log of a GPU run
            System.out.println("cuBLASLt on cuda:0: " + CublasLt.status(0) + " (available: " + available + ")");
        }
    }

    @AfterAll
    static void restoreDefault() {
        System.clearProperty(CublasLt.PROPERTY);
    }

    /** Normal values with standard deviation {@code sd}, as {@code dtype} on the GPU. */
    private static Tensor random(long seed, double sd, ScalarType dtype, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() * sd);
        }
        return TensorData.floats(v, shape).to(GPU.toTorch(), dtype);
    }

    private static Tensor f64(Tensor t) {
        return t.to(ScalarType.Double);
    }

    /** Relative difference of the bf16/f16 result from float64, and the bound its rounding allows. */
    private static double bound(ScalarType dt) {
        return dt == ScalarType.Half ? 1e-3 : 6e-3;
    }

    @Test
    void linearMatchesAtLinearAndFloat64() {
        for (ScalarType dt : DTYPES) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = random(1, 1, dt, 3, 50, 192);
                Tensor w = random(2, 0.07, dt, 320, 192);
                Tensor b = random(3, 1, dt, 320);
                Tensor y = Functional.linear(x, w, b);
                assertThat(CublasLt.status(0)).startsWith("cuBLASLt");
                Tensor libtorch = torch.linear(x, w, new TensorOptional(b));
                Tensor exact = torch.linear(f64(x), f64(w), new TensorOptional(f64(b)));
                assertThat(y.sizes().vec().get()).containsExactly(3, 50, 320);
                double lt = relError(y, exact);
                double at = relError(libtorch, exact);
                System.out.printf("cuBLASLt linear %s: %.2e vs float64 (at::linear %.2e)%n", dt, lt, at);
                assertThat(lt).isLessThan(bound(dt)).isLessThan(1.5 * at + 1e-5);
                // without a bias, and a weight whose rows are strided (a row slice of a wider one)
                Tensor wide = random(4, 0.07, dt, 320, 256);
                Tensor ws = wide.narrow(1, 32, 192);
                Tensor y2 = Functional.linear(x, ws, null);
                double lt2 = relError(y2, torch.linear(f64(x), f64(ws), new TensorOptional()));
                assertThat(lt2).isLessThan(bound(dt));
            }
        }
    }

    @Test
    void geluBiasEpilogueMatchesFloat64() {
        for (ScalarType dt : DTYPES) {
            try (PointerScope scope = new PointerScope()) {
                Tensor x = random(5, 1, dt, 2, 40, 256);
                Tensor w = random(6, 0.06, dt, 384, 256);
                Tensor b = random(7, 1, dt, 384);
                Tensor y = Functional.linearGeluTanh(x, w, b);
                Tensor exact = torch.gelu(torch.linear(f64(x), f64(w), new TensorOptional(f64(b))), "tanh");
                Tensor addmmActivation = b._addmm_activation(
                                x.reshape(-1, 256), w.t(), new Scalar(1L), new Scalar(1L), true)
                        .view(2, 40, 384);
                double lt = relError(y, exact);
                double at = relError(addmmActivation, exact);
                System.out.printf("cuBLASLt GELU-bias %s: %.2e vs float64 (_addmm_activation %.2e)%n", dt, lt, at);
                assertThat(lt).isLessThan(bound(dt)).isLessThan(1.5 * at + 1e-5);
            }
        }
    }

    @Test
    void joinedPartsAddIntoOneOutput() {
        for (ScalarType dt : DTYPES) {
            try (PointerScope scope = new PointerScope()) {
                Tensor a = random(8, 1, dt, 2, 40, 96);
                Tensor m = random(9, 1, dt, 2, 40, 160);
                Tensor w = random(10, 0.06, dt, 128, 256);
                Tensor b = random(11, 1, dt, 128);
                Tensor y = Functional.linearJoined(new Tensor[] {a, m}, w, b);
                Tensor exact =
                        torch.linear(f64(torch.cat(new TensorVector(a, m), -1)), f64(w), new TensorOptional(f64(b)));
                double lt = relError(y, exact);
                System.out.printf("cuBLASLt joined %s: %.2e vs float64%n", dt, lt);
                assertThat(y.sizes().vec().get()).containsExactly(2, 40, 128);
                assertThat(lt).isLessThan(bound(dt));
            }
        }
    }

    @Test
    void switchedOffEveryGemmIsLibTorchs() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = random(30, 1, ScalarType.BFloat16, 64, 192);
            Tensor w = random(31, 0.07, ScalarType.BFloat16, 96, 192);
            Tensor b = random(32, 1, ScalarType.BFloat16, 96);
            Tensor off;
            try {
                System.setProperty(CublasLt.PROPERTY, "false");
                off = Functional.linear(x, w, b);
                assertThat(CublasLt.forGemm(x, w)).isEmpty();
            } finally {
                System.setProperty(CublasLt.PROPERTY, "true");
            }
            assertThat(bits(toFloats(off))).isEqualTo(bits(toFloats(torch.linear(x, w, new TensorOptional(b)))));
            // a sliver of rows stays on LibTorch's call too
            assertThat(CublasLt.forGemm(x.narrow(0, 0, CublasLt.MIN_ROWS - 1), w))
                    .isEmpty();
            assertThat(CublasLt.forGemm(x, w)).isPresent();
        }
    }

    @Test
    void badOperandsAreRejectedWithTheirShapes() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = random(40, 1, ScalarType.BFloat16, 32, 64);
            Tensor w = random(41, 1, ScalarType.BFloat16, 16, 48);
            CublasLt lt = CublasLt.forGemm(x, random(42, 1, ScalarType.BFloat16, 16, 64))
                    .orElseThrow();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> lt.linear(x, w, null, false))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[32, 64]")
                    .hasMessageContaining("[16, 48]");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> lt.linear(x, w, null, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("bias");
        }
    }
}
