package io.github.flux4j.core.nn;

import static io.github.flux4j.core.quant.TensorData.bits;
import static io.github.flux4j.core.quant.TensorData.read;
import static io.github.flux4j.core.quant.TensorData.toFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.quant.TensorData;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LinearsTest {
    private static final FluxDevice CPU = FluxDevice.cpu();

    @Test
    void floatWeightFromAMisalignedDirectBufferIsCopiedAndIndependent() {
        float[] w = QuantizedLinearTest.random(4 * 8, 7);
        float[] b = {1, -2, 3, -4};
        ByteBuffer buf = ByteBuffer.allocateDirect(3 + w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.position(3); // an odd address: the weight must still be read correctly
        for (float v : w) {
            buf.putFloat(v);
        }
        buf.position(3);
        ByteBuffer bias = littleEndian(b);
        try (PointerScope scope = new PointerScope();
                LinearOp op = Linears.fromGguf(GgmlType.F32, buf, 4, 8, bias, GgmlType.F32, CPU, ComputeDtype.F32)) {
            assertThat(op).isInstanceOf(DenseLinear.class);
            assertThat(op.quantType()).isNull();
            assertThat(buf.position()).isEqualTo(3);
            DenseLinear d = (DenseLinear) op;
            // Scribble over the source: the layer owns a copy.
            for (int i = 3; i < buf.capacity(); i++) {
                buf.put(i, (byte) 0x7F);
            }
            assertThat(toFloats(d.weight())).containsExactly(w);
            assertThat(toFloats(d.bias())).containsExactly(b);
            Tensor y = op.forward(TensorData.floats(new float[] {1, 0, 0, 0, 0, 0, 0, 0}, 1, 8));
            assertThat(toFloats(y)).containsExactly(w[0] + 1, w[8] - 2, w[16] + 3, w[24] - 4);
        }
    }

    @Test
    void floatWeightsAreConvertedOnceToTheComputeDtype() {
        float[] w = QuantizedLinearTest.random(2 * 32, 8);
        try (PointerScope scope = new PointerScope();
                LinearOp op =
                        Linears.fromGguf(GgmlType.F32, littleEndian(w), 2, 32, null, null, CPU, ComputeDtype.BF16)) {
            Tensor weight = ((DenseLinear) op).weight();
            assertThat(Torch.dtype(weight)).isSameAs(ScalarType.BFloat16);
            assertThat(bits(toFloats(weight)))
                    .isEqualTo(bits(toFloats(TensorData.floats(w, 2, 32).to(ScalarType.BFloat16))));
        }
    }

    @Test
    void quantizedWeightFromAReadOnlyMappingStaysPacked(@TempDir Path dir) throws IOException {
        GgmlType type = GgmlType.Q4_K;
        byte[] blocks = read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks"));
        float[] w = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        long out = w.length / 256;
        Path file = dir.resolve("w.bin");
        byte[] padded = new byte[32 + blocks.length];
        System.arraycopy(blocks, 0, padded, 32, blocks.length);
        Files.write(file, padded);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                PointerScope scope = new PointerScope()) {
            ByteBuffer mapped =
                    ch.map(FileChannel.MapMode.READ_ONLY, 32, blocks.length).asReadOnlyBuffer();
            try (LinearOp op = Linears.fromGguf(type, mapped, out, 256, null, null, CPU, ComputeDtype.F32);
                    DenseLinear dense = new DenseLinear(TensorData.floats(w, out, 256), null)) {
                assertThat(op).isInstanceOf(QuantizedLinear.class);
                assertThat(op.quantType()).isEqualTo(type);
                assertThat(((QuantizedLinear) op).rawBlocks().numel()).isEqualTo(blocks.length);
                Tensor x = TensorData.floats(QuantizedLinearTest.random(2 * 256, 9), 2, 256);
                assertThat(bits(toFloats(op.forward(x)))).isEqualTo(bits(toFloats(dense.forward(x))));
            }
        }
    }

    @Test
    void tensorFromGgufConvertsAndDequantizes() {
        try (PointerScope scope = new PointerScope()) {
            Tensor scale = Linears.tensorFromGguf(
                    GgmlType.F32, littleEndian(new float[] {1.5f, -0.1f, 3f}), new long[] {3}, CPU, ComputeDtype.BF16);
            assertThat(Torch.dtype(scale)).isSameAs(ScalarType.BFloat16);
            assertThat(toFloats(scale)).containsExactly(1.5f, -0.10009765625f, 3f);

            ByteBuffer heap = ByteBuffer.wrap(read(TensorData.GGUF_REFERENCE.resolve("Q8_0.blocks")));
            Tensor q = Linears.tensorFromGguf(GgmlType.Q8_0, heap, new long[] {32, 256}, CPU, ComputeDtype.F32);
            assertThat(bits(toFloats(q)))
                    .isEqualTo(bits(TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve("Q8_0.f32"))));
            assertThat(heap.position()).isZero();
        }
    }

    @Test
    void floatWeightsAreNotViewsOfTheUploadedBytes() {
        // F32/F16/BF16 bytes are reinterpreted in place; as a view the weight would keep the
        // uploaded bytes' storage alive as its base, so moving it (set_data: page-locked copies,
        // block streaming) would leave that storage behind and hold the weight twice in RAM.
        try (PointerScope scope = new PointerScope();
                LinearOp op = Linears.fromGguf(
                        GgmlType.F32,
                        littleEndian(new float[] {1, 2, 3, 4, 5, 6, 7, 8}),
                        2,
                        4,
                        null,
                        null,
                        CPU,
                        ComputeDtype.F32)) {
            Tensor w = ((DenseLinear) op).weight();
            assertThat(w.is_view()).isFalse();
            assertThat(toFloats(w)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
            Tensor bf16 = Linears.tensorFromGguf(
                    GgmlType.F32, littleEndian(new float[] {1.5f, 2f}), new long[] {2}, CPU, ComputeDtype.F32);
            assertThat(bf16.is_view()).isFalse();
        }
    }

    @Test
    void argumentErrors() {
        ByteBuffer eight = littleEndian(new float[8]);
        assertThatThrownBy(() -> Linears.fromGguf(GgmlType.F32, eight, 3, 3, null, null, CPU, ComputeDtype.F32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("buffer holds 32 bytes, expected 36");
        assertThatThrownBy(() -> Linears.fromGguf(
                        GgmlType.F32, eight, 2, 4, littleEndian(new float[2]), null, CPU, ComputeDtype.F32))
                .hasMessageContaining("biasType is required");
        assertThatThrownBy(() -> Linears.fromGguf(
                        GgmlType.F32, eight, 2, 4, littleEndian(new float[3]), GgmlType.F32, CPU, ComputeDtype.F32))
                .hasMessageContaining("buffer holds 12 bytes, expected 8");
        assertThatThrownBy(() -> Linears.fromGguf(GgmlType.Q8_1, eight, 1, 32, null, null, CPU, ComputeDtype.F32))
                .isInstanceOf(UnsupportedGgufTypeException.class)
                .hasMessageContaining("Q8_1");
        assertThatThrownBy(() -> Linears.fromGguf(GgmlType.Q8_0, eight, 1, 16, null, null, CPU, ComputeDtype.F32))
                .hasMessageContaining("not a multiple of Q8_0's block size 32");
        assertThatThrownBy(() -> Linears.tensorFromGguf(GgmlType.Q8_0, eight, new long[] {16}, CPU, ComputeDtype.F32))
                .hasMessageContaining("[16]");
    }

    private static ByteBuffer littleEndian(float[] values) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.flip();
    }
}
