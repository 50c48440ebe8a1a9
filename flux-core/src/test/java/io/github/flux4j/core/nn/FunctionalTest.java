package io.github.flux4j.core.nn;

import static io.github.flux4j.core.quant.TensorData.toFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.github.flux4j.core.quant.TensorData;
import io.github.flux4j.core.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/** Each helper against its textbook formula evaluated in double precision. */
class FunctionalTest {
    private static final int ROWS = 6;
    private static final int D = 16;

    @Test
    void layerNormNoAffine() {
        float[] x = QuantizedLinearTest.random(ROWS * D, 11);
        for (int i = 0; i < x.length; i++) {
            x[i] = x[i] * 3 + 0.5f * (i % D); // a non-zero mean per row
        }
        try (PointerScope scope = new PointerScope()) {
            float[] y = toFloats(Functional.layerNormNoAffine(TensorData.floats(x, 2, 3, D), 1e-6));
            for (int r = 0; r < ROWS; r++) {
                double mean = 0;
                double sq = 0;
                for (int i = 0; i < D; i++) {
                    mean += x[r * D + i];
                }
                mean /= D;
                for (int i = 0; i < D; i++) {
                    sq += (x[r * D + i] - mean) * (x[r * D + i] - mean);
                }
                double inv = 1 / Math.sqrt(sq / D + 1e-6); // biased variance, as LayerNorm
                for (int i = 0; i < D; i++) {
                    assertThat((double) y[r * D + i]).isCloseTo((x[r * D + i] - mean) * inv, within(2e-6));
                }
            }
        }
    }

    @Test
    void rmsNormScalesInFloat32AndKeepsTheInputDtype() {
        float[] x = QuantizedLinearTest.random(ROWS * D, 12);
        float[] w = QuantizedLinearTest.random(D, 13);
        try (PointerScope scope = new PointerScope()) {
            float[] y = toFloats(Functional.rmsNorm(TensorData.floats(x, ROWS, D), TensorData.floats(w, D), 1e-6));
            double[] ref = rms(x, w);
            for (int i = 0; i < y.length; i++) {
                assertThat((double) y[i]).isCloseTo(ref[i], within(2e-6 * (1 + Math.abs(ref[i]))));
            }
            // bf16 in, bf16 out, computed in float32 and rounded once: within half a bf16 ulp
            // (2^-9 relative) of the exact value, plus float32 noise.
            Tensor xb = TensorData.floats(x, ROWS, D).to(ScalarType.BFloat16);
            Tensor wb = TensorData.floats(w, D).to(ScalarType.BFloat16);
            Tensor yb = Functional.rmsNorm(xb, wb, 1e-6);
            assertThat(Torch.dtype(yb)).isSameAs(ScalarType.BFloat16);
            float[] got = toFloats(yb);
            double[] exact = rms(toFloats(xb), toFloats(wb));
            for (int i = 0; i < got.length; i++) {
                double halfUlp = Math.scalb(1.0, Math.getExponent(exact[i]) - 8); // bf16: 8 significant bits
                assertThat((double) got[i]).isCloseTo(exact[i], within(halfUlp + Math.abs(exact[i]) * 1e-6));
            }
            assertThatThrownBy(() ->
                            Functional.rmsNorm(TensorData.floats(x, ROWS, D), TensorData.floats(new float[3], 3), 1e-6))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[16]");
        }
    }

    @Test
    void activations() {
        float[] x = QuantizedLinearTest.random(64, 14);
        try (PointerScope scope = new PointerScope()) {
            Tensor t = TensorData.floats(x, 64);
            float[] gelu = toFloats(Functional.geluTanh(t));
            float[] silu = toFloats(Functional.silu(t));
            for (int i = 0; i < x.length; i++) {
                double v = x[i];
                double g = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                assertThat((double) gelu[i]).isCloseTo(g, within(1e-6));
                assertThat((double) silu[i]).isCloseTo(v / (1 + Math.exp(-v)), within(1e-6));
            }
        }
    }

    @Test
    void sdpaIsSoftmaxAttentionScaledByInverseSqrtHeadDim() {
        int l = 5;
        int hd = 8;
        float[] q = QuantizedLinearTest.random(l * hd, 15);
        float[] k = QuantizedLinearTest.random(l * hd, 16);
        float[] v = QuantizedLinearTest.random(l * hd, 17);
        try (PointerScope scope = new PointerScope()) {
            float[] y = toFloats(Functional.sdpa(
                    TensorData.floats(q, 1, 1, l, hd),
                    TensorData.floats(k, 1, 1, l, hd),
                    TensorData.floats(v, 1, 1, l, hd)));
            for (int i = 0; i < l; i++) {
                double[] s = new double[l];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < l; j++) {
                    for (int c = 0; c < hd; c++) {
                        s[j] += (double) q[i * hd + c] * k[j * hd + c];
                    }
                    s[j] /= Math.sqrt(hd);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < l; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                for (int c = 0; c < hd; c++) {
                    double o = 0;
                    for (int j = 0; j < l; j++) {
                        o += s[j] / sum * v[j * hd + c];
                    }
                    assertThat((double) y[i * hd + c]).isCloseTo(o, within(2e-6));
                }
            }
        }
    }

    private static double[] rms(float[] x, float[] w) {
        double[] out = new double[x.length];
        for (int r = 0; r < x.length / D; r++) {
            double sq = 0;
            for (int i = 0; i < D; i++) {
                sq += (double) x[r * D + i] * x[r * D + i];
            }
            double inv = 1 / Math.sqrt(sq / D + 1e-6);
            for (int i = 0; i < D; i++) {
                out[r * D + i] = x[r * D + i] * inv * w[i];
            }
        }
        return out;
    }
}
