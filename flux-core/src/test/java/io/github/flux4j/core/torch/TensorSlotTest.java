package io.github.flux4j.core.torch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The replace-and-free idiom: what is freed when, also on failures, and no leak in a long chain. */
class TensorSlotTest {
    @BeforeAll
    static void init() {
        Torch.init();
    }

    private static Tensor ones() {
        return Tensors.fromFloats(new float[] {1, 1, 1, 1}, 4);
    }

    @Test
    void updateFreesThePreviousTensorOnceTheNextExists() {
        try (PointerScope outer = new PointerScope();
                TensorSlot slot = TensorSlot.of(TensorSlotTest::ones)) {
            Tensor first = slot.get();
            slot.update(t -> {
                assertThat(first.isNull()).isFalse(); // still alive while the next is computed
                return t.add(new Scalar(1));
            });
            assertThat(first.isNull()).isTrue();
            assertThat(Tensors.toFloats(slot.get())).containsExactly(2, 2, 2, 2);
            Tensor out = slot.handOver();
            assertThat(slot.isEmpty()).isTrue();
            assertThat(Tensors.toFloats(out)).containsExactly(2, 2, 2, 2); // now the outer scope's
        }
    }

    @Test
    void handedOverTensorsAreFreedWithTheScope() {
        Tensor out;
        try (PointerScope scope = new PointerScope()) {
            try (TensorSlot slot = TensorSlot.of(TensorSlotTest::ones)) {
                out = slot.handOver();
            }
            assertThat(out.isNull()).isFalse();
        }
        assertThat(out.isNull()).isTrue();
    }

    @Test
    void aFailedUpdateStillFreesThePreviousTensor() {
        TensorSlot slot = TensorSlot.of(TensorSlotTest::ones);
        Tensor first = slot.get();
        assertThatThrownBy(() -> slot.update(t -> {
                    throw new IllegalStateException("boom");
                }))
                .hasMessage("boom");
        assertThat(first.isNull()).isTrue();
        assertThat(slot.isEmpty()).isTrue();
        assertThatThrownBy(slot::get).isInstanceOf(IllegalStateException.class).hasMessageContaining("empty");
        slot.close(); // nothing left: a no-op
    }

    @Test
    void aFailedComputeKeepsThePreviousTensorForClose() {
        Tensor first;
        try (TensorSlot slot = TensorSlot.of(TensorSlotTest::ones)) {
            first = slot.get();
            assertThatThrownBy(() -> slot.compute(() -> {
                        throw new IllegalStateException("boom");
                    }))
                    .hasMessage("boom");
            assertThat(slot.get()).isSameAs(first);
        }
        assertThat(first.isNull()).isTrue();
    }

    @Test
    void replaceTakesOverAKeptTensorAndTakeGivesItBack() {
        Tensor kept;
        try (PointerScope step = new PointerScope()) {
            kept = Scopes.keep(ones());
        }
        try (TensorSlot slot = new TensorSlot()) {
            slot.replace(kept);
            Tensor taken = slot.take();
            assertThat(slot.isEmpty()).isTrue();
            assertThat(taken.isNull()).isFalse();
            taken.close();
        }
        assertThat(kept.isNull()).isTrue();
    }

    @Test
    void aLongChainHoldsOneTensorAtATime() {
        long big = 1 << 20; // 4 MiB per tensor: 200 of them kept would be 800 MiB
        try (PointerScope scope = new PointerScope();
                TensorSlot h = TensorSlot.of(() -> org.bytedeco.pytorch.global.torch.zeros(big))) {
            NativeMemory.trim();
            long rss0 = NativeMemory.rssBytes();
            for (int i = 0; i < 200; i++) {
                h.update(t -> t.add(new Scalar(1)));
            }
            NativeMemory.trim();
            assertThat(NativeMemory.rssBytes() - rss0).isLessThan(64L << 20);
            assertThat(h.get().select(0, 0).item_float()).isEqualTo(200f);
        }
    }
}
