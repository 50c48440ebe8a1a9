package io.github.flux4j.core.torch;

import static org.assertj.core.api.Assertions.assertThat;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

class ScopesTest {

    @Test
    void scopedFreesTemporariesAndHandsTheResultToTheOuterScope() {
        Tensor result;
        try (PointerScope outer = new PointerScope()) {
            long before = NativeMemory.livePointers();
            result = Scopes.scoped(() -> {
                Tensor a = torch.ones(4, 4);
                Tensor b = a.mul(a).add(a); // temporaries: a, a*a, b
                return b.sum();
            });
            // Only the result is still alive, and it is attached to `outer`.
            assertThat(NativeMemory.livePointers() - before).isEqualTo(1);
            assertThat(result.item_float()).isEqualTo(32f);
        }
        assertThat(result.isNull()).isTrue();
    }

    @Test
    void withoutAnOuterScopeTheCallerOwnsTheResult() {
        Tensor result = Scopes.scoped(() -> torch.ones(3).sum());
        assertThat(result.item_float()).isEqualTo(3f);
        result.close();
        assertThat(result.isNull()).isTrue();
    }

    @Test
    void keepOutlivesTheScopeUntilClosed() {
        Tensor kept;
        try (PointerScope scope = new PointerScope()) {
            kept = Scopes.keep(torch.ones(2).mul(new org.bytedeco.pytorch.Scalar(5)));
        }
        assertThat(kept.isNull()).isFalse();
        assertThat(kept.sum().item_float()).isEqualTo(10f);
        Scopes.release(kept);
        assertThat(kept.isNull()).isTrue();
        Scopes.release(kept); // idempotent
        Scopes.release(null);
    }

    @Test
    void memoryFiguresArePlausible() {
        assertThat(NativeMemory.rssBytes()).isGreaterThan(16L << 20);
        assertThat(NativeMemory.totalBytes()).isNotNegative();
        NativeMemory.trim();
    }
}
