package io.github.flux4j.core.quant;

import static io.github.flux4j.core.quant.TensorData.bits;
import static io.github.flux4j.core.quant.TensorData.read;
import static io.github.flux4j.core.quant.TensorData.toFloats;
import static io.github.flux4j.core.quant.TensorData.uint8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.nio.file.Path;
import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * TorchDequantizer against gguf-py (through flux-gguf's reference files: random blocks with
 * zeros, subnormal and large scales) and against diffusers' own float16 dequantize functions.
 */
class TorchDequantizerTest {

    /** Every supported type, float32 output: bit-identical to gguf.quants.dequantize. */
    @ParameterizedTest
    @EnumSource(
            names = {
                "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
                "IQ4_NL", "IQ4_XS"
            })
    void float32IsBitExactWithGgufPy(GgmlType type) {
        float[] expected = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks")));
            long[] shape = {2, expected.length / 2};
            Tensor out = TorchDequantizer.dequantize(raw, type, shape, ScalarType.Float);

            assertThat(Torch.dtype(out)).isEqualTo(ScalarType.Float);
            assertThat(out.sizes().vec().get()).containsExactly(shape);
            assertThat(bits(toFloats(out))).isEqualTo(bits(expected));
        }
    }

    /** BF16/F16 output = the exact float32 result rounded once. */
    @ParameterizedTest
    @EnumSource(
            names = {
                "F32", "F16", "BF16", "Q4_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"
            })
    void reducedPrecisionOutputIsTheFloat32ResultCast(GgmlType type) {
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks")));
            long elements = raw.numel() / type.typeSize() * type.blockSize();
            long[] shape = {elements};
            Tensor f32 = TorchDequantizer.dequantize(raw, type, shape, ScalarType.Float);
            for (ScalarType t : new ScalarType[] {ScalarType.BFloat16, ScalarType.Half}) {
                Tensor out = TorchDequantizer.dequantize(raw, type, shape, t);
                assertThat(Torch.dtype(out)).isEqualTo(t);
                assertThat(bits(toFloats(out))).as("%s -> %s", type, t).isEqualTo(bits(toFloats(f32.to(t))));
            }
        }
    }

    /**
     * FLOAT16_LIKE_DIFFUSERS reproduces diffusers' dequantize functions bit for bit, both the
     * float16 (or float32) values they return and the bf16 weight GGUFLinear feeds to F.linear.
     */
    @ParameterizedTest
    @EnumSource(
            names = {
                "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
                "IQ4_XS"
            })
    void float16ModeMatchesDiffusers(GgmlType type) {
        Path dir = TensorData.DIFFUSERS_REFERENCE;
        String outDtype = manifestDtype(type);
        float[] expected = outDtype.equals("f16")
                ? TensorData.readHalfs(dir.resolve(type + ".out"))
                : TensorData.readFloats(dir.resolve(type + ".out"));
        float[] expectedBf16 = TensorData.readBfloat16s(dir.resolve(type + ".bf16"));
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks")));
            long[] shape = {expected.length};
            Tensor f32 = TorchDequantizer.dequantize(
                    raw, type, shape, ScalarType.Float, DequantArithmetic.FLOAT16_LIKE_DIFFUSERS);
            Tensor bf16 = TorchDequantizer.dequantize(
                    raw, type, shape, ScalarType.BFloat16, DequantArithmetic.FLOAT16_LIKE_DIFFUSERS);

            assertThat(bits(toFloats(f32))).isEqualTo(bits(expected));
            assertThat(bits(toFloats(bf16))).isEqualTo(bits(expectedBf16));
        }
    }

    /** The two arithmetics really differ for the float16 types (otherwise the test above is weak). */
    @Test
    void float16ModeDiffersFromExactForKQuants() {
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(read(TensorData.GGUF_REFERENCE.resolve("Q4_K.blocks")));
            long[] shape = {raw.numel() / 144 * 256};
            float[] exact = toFloats(TorchDequantizer.dequantize(raw, GgmlType.Q4_K, shape, ScalarType.Float));
            float[] f16 = toFloats(TorchDequantizer.dequantize(
                    raw, GgmlType.Q4_K, shape, ScalarType.Float, DequantArithmetic.FLOAT16_LIKE_DIFFUSERS));
            long differing = 0;
            for (int i = 0; i < exact.length; i++) {
                if (Float.floatToIntBits(exact[i]) != Float.floatToIntBits(f16[i])) {
                    differing++;
                }
            }
            assertThat(differing).isGreaterThan(exact.length / 4);
        }
    }

    /** A hand-made Q8_0 block: d = 0.5, q = -128..127 subset; and a misaligned source buffer. */
    @Test
    void handMadeQ8_0BlockAtAnOddOffset() {
        byte[] bytes = new byte[1 + 34];
        bytes[1] = 0x00;
        bytes[2] = 0x38; // float16 0.5 = 0x3800, little-endian
        for (int j = 0; j < 32; j++) {
            bytes[3 + j] = (byte) (j * 8 - 128);
        }
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(bytes).narrow(0, 1, 34); // storage offset 1: the f16 view must still work
            float[] out = toFloats(TorchDequantizer.dequantize(raw, GgmlType.Q8_0, new long[] {32}, ScalarType.Float));
            float[] expected = new float[32];
            for (int j = 0; j < 32; j++) {
                expected[j] = 0.5f * (j * 8 - 128);
            }
            assertThat(out).containsExactly(expected);
        }
    }

    @Test
    void plainTypesAtAnOddOffsetAreCopiedNotMisread() {
        byte[] bytes = {0, 0x00, 0x3C, 0x00, (byte) 0xC0}; // f16 1.0, -2.0 after one byte of padding
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(bytes).narrow(0, 1, 4);
            float[] out = toFloats(TorchDequantizer.dequantize(raw, GgmlType.F16, new long[] {2}, ScalarType.Float));
            assertThat(out).containsExactly(1.0f, -2.0f);
        }
    }

    @Test
    void resultBelongsToTheEnclosingScope() {
        Tensor out;
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(read(TensorData.GGUF_REFERENCE.resolve("Q4_0.blocks")));
            out = TorchDequantizer.dequantize(raw, GgmlType.Q4_0, new long[] {8192}, ScalarType.Float);
            assertThat(out.isNull()).isFalse();
        }
        assertThat(out.isNull()).isTrue();
    }

    @Test
    void emptyTensor() {
        try (PointerScope scope = new PointerScope()) {
            Tensor out = TorchDequantizer.dequantize(
                    uint8(new byte[0]), GgmlType.Q4_K, new long[] {0, 256}, ScalarType.BFloat16);
            assertThat(out.sizes().vec().get()).containsExactly(0, 256);
            assertThat(Torch.dtype(out)).isEqualTo(ScalarType.BFloat16);
        }
    }

    @Test
    void argumentErrorsNameTheProblem() {
        try (PointerScope scope = new PointerScope()) {
            Tensor raw = uint8(new byte[18]);
            assertThatThrownBy(() -> TorchDequantizer.dequantize(
                            raw.to(ScalarType.Int), GgmlType.Q4_0, new long[] {32}, ScalarType.Float))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("uint8");
            assertThatThrownBy(() -> TorchDequantizer.dequantize(raw, GgmlType.Q4_0, new long[] {64}, ScalarType.Float))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("raw holds 18 bytes")
                    .hasMessageContaining("needs 36");
            assertThatThrownBy(
                            () -> TorchDequantizer.dequantize(raw, GgmlType.Q4_0, new long[] {2, 16}, ScalarType.Float))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[2, 16]");
            assertThatThrownBy(
                            () -> TorchDequantizer.dequantize(raw, GgmlType.Q4_0, new long[] {-32}, ScalarType.Float))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("negative");
            assertThatThrownBy(() -> TorchDequantizer.dequantize(raw, GgmlType.Q4_0, new long[] {32}, ScalarType.Long))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("outDtype");
            for (GgmlType t : new GgmlType[] {GgmlType.Q8_1, GgmlType.IQ2_XXS, GgmlType.I8, GgmlType.TQ1_0}) {
                assertThat(TorchDequantizer.isSupported(t)).isFalse();
                assertThatThrownBy(() -> TorchDequantizer.dequantize(raw, t, new long[] {32}, ScalarType.Float))
                        .isInstanceOf(UnsupportedGgufTypeException.class)
                        .hasMessageContaining(t.name());
            }
        }
    }

    private static String manifestDtype(GgmlType type) {
        String manifest = new String(read(TensorData.DIFFUSERS_REFERENCE.resolve("MANIFEST.txt")));
        return Arrays.stream(manifest.split("\n"))
                .filter(l -> l.startsWith(type.name() + " "))
                .map(l -> l.split(" ")[1])
                .findFirst()
                .orElseThrow(() -> new AssertionError("no manifest line for " + type));
    }
}
