package io.github.flux4j.core.nn;

import static io.github.flux4j.core.quant.TensorData.bits;
import static io.github.flux4j.core.quant.TensorData.read;
import static io.github.flux4j.core.quant.TensorData.toFloats;
import static io.github.flux4j.core.quant.TensorData.uint8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.quant.TensorData;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * QuantizedLinear on flux-gguf's reference blocks (weights = gguf-py's dequantization of random
 * blocks): the same output as a DenseLinear over gguf-py's float32 weight, bit for bit, and close to
 * a double-precision x W^T + b computed in Java.
 */
class QuantizedLinearTest {
    private static final long IN = 256;

    @ParameterizedTest
    @EnumSource(names = {"Q4_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    void matchesDenseLinearOnTheGgufPyWeightExactly(GgmlType type) {
        float[] w = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        long out = w.length / IN;
        float[] x = random(3 * IN, 1);
        float[] b = random(out, 2);
        try (PointerScope scope = new PointerScope()) {
            Tensor xs = TensorData.floats(x, 3, IN);
            Tensor bias = TensorData.floats(b, out);
            try (QuantizedLinear q = referenceLayer(type, out, bias);
                    DenseLinear d = new DenseLinear(TensorData.floats(w, out, IN), bias)) {
                assertThat(q.quantType()).isEqualTo(type);
                assertThat(q.outFeatures()).isEqualTo(out);
                assertThat(q.inFeatures()).isEqualTo(IN);
                assertThat(bits(toFloats(q.dequantizeWeight()))).isEqualTo(bits(w));

                float[] yq = toFloats(q.forward(xs));
                assertThat(bits(yq)).isEqualTo(bits(toFloats(d.forward(xs))));

                double[] expected = reference(x, w, b, 3, (int) out);
                for (int i = 0; i < yq.length; i++) {
                    double scale = magnitude(x, w, i / (int) out, i % (int) out, (int) out);
                    assertThat((double) yq[i]).as("y[%d]", i).isCloseTo(expected[i], within(1e-5 * scale + 1e-6));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"Q8_0", "Q4_K", "Q6_K"})
    void forwardGeluTanhIsTheGeluOfForwardBitForBit(GgmlType type) {
        // the feed-forward input layer's fused entry point: on the CPU (and on CUDA without the
        // epilogue property) the same linear, then the same GELU kernel, in place
        float[] w = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        long out = w.length / IN;
        for (String epilogue : new String[] {"false", "true"}) { // the property is CUDA-only
            System.setProperty(io.github.flux4j.core.cuda.CudaKernels.GELU_EPILOGUE_PROPERTY, epilogue);
            try (PointerScope scope = new PointerScope()) {
                Tensor xs = TensorData.floats(random(3 * IN, 5), 1, 3, IN);
                Tensor bias = TensorData.floats(random(out, 6), out);
                try (QuantizedLinear q = referenceLayer(type, out, bias);
                        DenseLinear d = new DenseLinear(TensorData.floats(w, out, IN), bias)) {
                    float[] want = toFloats(Functional.geluTanh(q.forward(xs)));
                    assertThat(bits(toFloats(q.forwardGeluTanh(xs))))
                            .as("quantized")
                            .isEqualTo(bits(want));
                    assertThat(bits(toFloats(d.forwardGeluTanh(xs))))
                            .as("dense")
                            .isEqualTo(bits(want));
                    assertThat(q.forwardGeluTanh(xs).sizes().vec().get()).containsExactly(1, 3, out);
                }
            } finally {
                System.clearProperty(io.github.flux4j.core.cuda.CudaKernels.GELU_EPILOGUE_PROPERTY);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"Q8_0", "Q4_K"})
    void splitAndJoinedForwardsAreForwardsColumnGroupsAndConcatenation(GgmlType type) {
        // the single block's fast path: linear1 as one GEMM per column group (GELU on the second),
        // linear2 as one GEMM per part of its input added into one output; against forward itself
        float[] w = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        long out = w.length / IN;
        long[] widths = {out - 24, 24};
        boolean[] gelu = {false, true};
        // 12 rows take the per-group / per-part GEMMs; 3 rows (a modulation-sized input) the defaults
        for (int rows : new int[] {12, 3}) {
            try (PointerScope scope = new PointerScope()) {
                Tensor xs = TensorData.floats(random(rows * IN, 7), 1, rows, IN);
                Tensor bias = TensorData.floats(random(out, 8), out);
                try (QuantizedLinear q = referenceLayer(type, out, bias);
                        DenseLinear d = new DenseLinear(TensorData.floats(w, out, IN), bias)) {
                    Tensor full = q.forward(xs);
                    Tensor[] wantSplit = {
                        full.narrow(-1, 0, out - 24), Functional.geluTanh(full.narrow(-1, out - 24, 24))
                    };
                    for (LinearOp layer : new LinearOp[] {q, d}) {
                        Tensor[] got = layer.forwardSplit(xs, widths, gelu);
                        assertThat(got).hasSize(2);
                        for (int i = 0; i < 2; i++) {
                            assertThat(got[i].sizes().vec().get()).containsExactly(1, rows, widths[i]);
                            assertThat(TextRefs.relError(got[i], wantSplit[i]))
                                    .as("%s group %d", layer, i)
                                    .isLessThan(1e-6);
                        }
                        // linear2's shape: [a | m] W^T + b from the parts, against forward over the concatenation
                        Tensor a = xs.narrow(-1, 0, 100).contiguous();
                        Tensor m = xs.narrow(-1, 100, IN - 100).contiguous();
                        assertThat(TextRefs.relError(layer.forwardJoined(a, m), full))
                                .as("%s joined", layer)
                                .isLessThan(1e-6);
                        assertThat(layer.forwardJoined(xs).sizes().vec().get()).containsExactly(1, rows, out);
                        // the defaults a wrapper (LoRA) would inherit give the same values
                        LinearOp wrapper = forwardingOnly(layer);
                        assertThat(TextRefs.relError(wrapper.forwardSplit(xs, widths, gelu)[1], wantSplit[1]))
                                .isLessThan(1e-6);
                        assertThat(TextRefs.relError(wrapper.forwardJoined(a, m), full))
                                .isLessThan(1e-6);

                        assertThatThrownBy(() -> layer.forwardSplit(xs, new long[] {out - 1, 2}, gelu))
                                .isInstanceOf(IllegalArgumentException.class)
                                .hasMessageContaining("add up to " + (out + 1))
                                .hasMessageContaining("outFeatures " + out);
                        assertThatThrownBy(() -> layer.forwardSplit(xs, widths, new boolean[] {false}))
                                .isInstanceOf(IllegalArgumentException.class)
                                .hasMessageContaining("2 widths and 1 GELU flags");
                        assertThatThrownBy(() -> layer.forwardJoined(a, a))
                                .isInstanceOf(IllegalArgumentException.class)
                                .hasMessageContaining("add up to 200, not inFeatures " + IN);
                        assertThatThrownBy(() -> layer.forwardJoined(a, m.narrow(1, 0, 2)))
                                .isInstanceOf(IllegalArgumentException.class)
                                .hasMessageContaining("differ before the last dimension");
                    }
                }
            }
        }
    }

    /** A LinearOp that only forwards {@code forward}: what the interface's defaults do for wrappers. */
    private static LinearOp forwardingOnly(LinearOp base) {
        return new LinearOp() {
            @Override
            public Tensor forward(Tensor x) {
                return base.forward(x);
            }

            @Override
            public long inFeatures() {
                return base.inFeatures();
            }

            @Override
            public long outFeatures() {
                return base.outFeatures();
            }

            @Override
            public GgmlType quantType() {
                return base.quantType();
            }

            @Override
            public void close() {}
        };
    }

    /** flux-gguf's reference blocks of {@code type} as a float32 layer {@code [out, IN]}, on the CPU. */
    private static QuantizedLinear referenceLayer(GgmlType type, long out, Tensor bias) {
        return new QuantizedLinear(
                type,
                uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks"))),
                out,
                IN,
                bias,
                ScalarType.Float,
                DequantArithmetic.EXACT_FLOAT32);
    }

    @Test
    void bf16ComputeExpandsToBf16AndKeepsLeadingDims() {
        GgmlType type = GgmlType.Q8_0;
        float[] w = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        long out = w.length / IN;
        try (PointerScope scope = new PointerScope();
                QuantizedLinear q = new QuantizedLinear(
                        type,
                        uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks"))),
                        out,
                        IN,
                        null,
                        ScalarType.BFloat16,
                        DequantArithmetic.EXACT_FLOAT32)) {
            Tensor x = TensorData.floats(random(2 * 5 * IN, 3), 2, 5, IN).to(ScalarType.BFloat16);
            Tensor y = q.forward(x);
            assertThat(Torch.dtype(y)).isSameAs(ScalarType.BFloat16);
            assertThat(y.sizes().vec().get()).containsExactly(2, 5, out);
            Tensor dense = TensorData.floats(w, out, IN).to(ScalarType.BFloat16);
            assertThat(bits(toFloats(q.dequantizeWeight()))).isEqualTo(bits(toFloats(dense)));
            try (DenseLinear d = new DenseLinear(dense, null)) {
                assertThat(bits(toFloats(y))).isEqualTo(bits(toFloats(d.forward(x))));
            }
        }
    }

    @Test
    void argumentErrors() {
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(new byte[34 * 8]); // Q8_0: 8 blocks = 256 values
            assertThatThrownBy(() -> new QuantizedLinear(
                            GgmlType.IQ2_XXS, raw, 1, 256, null, ScalarType.Float, DequantArithmetic.EXACT_FLOAT32))
                    .isInstanceOf(UnsupportedGgufTypeException.class);
            assertThatThrownBy(() -> new QuantizedLinear(
                            GgmlType.Q8_0, raw, 2, 256, null, ScalarType.Float, DequantArithmetic.EXACT_FLOAT32))
                    .hasMessageContaining("holds 272 bytes")
                    .hasMessageContaining("needs 544");
            assertThatThrownBy(() -> new QuantizedLinear(
                            GgmlType.Q8_0, raw, 16, 16, null, ScalarType.Float, DequantArithmetic.EXACT_FLOAT32))
                    .hasMessageContaining("block size 32");
            assertThatThrownBy(() -> new QuantizedLinear(
                            GgmlType.Q8_0,
                            raw.to(ScalarType.Char),
                            1,
                            256,
                            null,
                            ScalarType.Float,
                            DequantArithmetic.EXACT_FLOAT32))
                    .hasMessageContaining("uint8");
            assertThatThrownBy(() -> new QuantizedLinear(
                            GgmlType.Q8_0,
                            raw,
                            1,
                            256,
                            TensorData.floats(new float[2], 2),
                            ScalarType.Float,
                            DequantArithmetic.EXACT_FLOAT32))
                    .hasMessageContaining("bias must be [1]");
            assertThatThrownBy(() -> new QuantizedLinear(
                            GgmlType.Q8_0,
                            raw,
                            1,
                            256,
                            TensorData.floats(new float[1], 1),
                            ScalarType.BFloat16,
                            DequantArithmetic.EXACT_FLOAT32))
                    .hasMessageContaining("bias dtype");

            QuantizedLinear q = new QuantizedLinear(
                    GgmlType.Q8_0, raw, 1, 256, null, ScalarType.Float, DequantArithmetic.EXACT_FLOAT32);
            assertThatThrownBy(() -> q.forward(TensorData.floats(new float[255], 255)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[255]")
                    .hasMessageContaining("inFeatures 256");
            assertThatThrownBy(() ->
                            q.forward(TensorData.floats(new float[256], 256).to(ScalarType.Half)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dtype Half");
            q.close();
            q.close();
            assertThatThrownBy(() -> q.forward(TensorData.floats(new float[256], 256)))
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    static float[] random(long n, long seed) {
        Random r = new Random(seed);
        float[] out = new float[Math.toIntExact(n)];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) r.nextGaussian();
        }
        return out;
    }

    private static double[] reference(float[] x, float[] w, float[] b, int rows, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double acc = b[o];
                for (int i = 0; i < IN; i++) {
                    acc += (double) x[(int) (r * IN + i)] * w[(int) (o * IN + i)];
                }
                y[r * out + o] = acc;
            }
        }
        return y;
    }

    /** Sum of |x_i w_i|: the size float32 rounding errors of a dot product scale with. */
    private static double magnitude(float[] x, float[] w, int r, int o, int out) {
        double acc = 0;
        for (int i = 0; i < IN; i++) {
            acc += Math.abs((double) x[(int) (r * IN + i)] * w[(int) (o * IN + i)]);
        }
        return acc;
    }
}
