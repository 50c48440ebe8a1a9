package io.github.flux4j.core.torch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Java arrays to tensors and back: values, dtypes, shapes, copies and ownership. */
class TensorsTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void floatsRoundTripExactlyInRowMajorOrder() {
        float[] data = {1.5f, -2.25f, 3e-8f, Float.MAX_VALUE, -0.0f, 6f};
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.fromFloats(data, 2, 3);
            assertThat(Tensors.shape(t)).containsExactly(2, 3);
            assertThat(Torch.dtype(t)).isSameAs(ScalarType.Float);
            assertThat(t.select(0, 1).select(0, 0).item_float()).isEqualTo(Float.MAX_VALUE);
            assertThat(Tensors.toFloats(t)).containsExactly(data);
            data[0] = 99; // a copy: the tensor does not see later changes
            assertThat(Tensors.toFloats(t)[0]).isEqualTo(1.5f);
        }
    }

    @Test
    void floatsAreRoundedToTheRequestedDtype() {
        float[] data = {1.00390625f, 3.14159f}; // 1 + 2^-8 is halfway between two bf16 values: ties to even
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.fromFloats(data, new long[] {2}, ComputeDtype.BF16, FluxDevice.cpu());
            assertThat(Torch.dtype(t)).isSameAs(ScalarType.BFloat16);
            assertThat(Tensors.toFloats(t)).containsExactly(1.0f, 3.140625f);
        }
    }

    @Test
    void integersBecomeInt64() {
        try (PointerScope scope = new PointerScope()) {
            Tensor ids = Tensors.fromInts(new int[] {49406, 320, 49407, 0}, 2, 2);
            assertThat(Torch.dtype(ids)).isSameAs(ScalarType.Long);
            assertThat(Tensors.toInts(ids)).containsExactly(49406, 320, 49407, 0);
            Tensor longs = Tensors.fromLongs(new long[] {1L << 40, -3}, 2);
            assertThat(Tensors.toLongs(longs)).containsExactly(1L << 40, -3);
            assertThatThrownBy(() -> Tensors.toInts(longs)).isInstanceOf(ArithmeticException.class);
            assertThat(Tensors.toFloats(longs)).containsExactly((float) (1L << 40), -3f);
        }
    }

    @Test
    void scalarsAndEmptyShapes() {
        try (PointerScope scope = new PointerScope()) {
            Tensor s = Tensors.fromFloats(new float[] {2.5f});
            assertThat(Tensors.shape(s)).isEmpty();
            assertThat(s.item_float()).isEqualTo(2.5f);
            Tensor empty = Tensors.fromFloats(new float[0], 0, 3);
            assertThat(Tensors.shape(empty)).containsExactly(0, 3);
            assertThat(Tensors.toFloats(empty)).isEmpty();
        }
    }

    @Test
    void aShapeThatDoesNotHoldTheArrayIsRefused() {
        assertThatThrownBy(() -> Tensors.fromFloats(new float[5], 2, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shape [2, 3] holds 6 values, but the array has 5");
        assertThatThrownBy(() -> Tensors.fromLongs(new long[1], -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative");
    }

    @Test
    void resultsBelongToTheCallersScope() {
        Tensor inScope;
        try (PointerScope scope = new PointerScope()) {
            inScope = Tensors.fromFloats(new float[] {1, 2}, 2);
        }
        assertThat(inScope.isNull()).isTrue();
        Tensor owned = Tensors.fromInts(new int[] {7}, 1);
        try {
            assertThat(Tensors.toInts(owned)).containsExactly(7); // no scope: the caller's until closed
        } finally {
            owned.close();
        }
        assertThat(owned.isNull()).isTrue();
    }

    @Test
    void cudaTensorsComeBack() {
        org.junit.jupiter.api.Assumptions.assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device");
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.fromFloats(new float[] {1, 2, 3}, new long[] {3}, ComputeDtype.F32, FluxDevice.cuda(0));
            assertThat(t.is_cuda()).isTrue();
            assertThat(Tensors.toFloats(t)).containsExactly(1, 2, 3);
        }
    }
}
