package io.github.flux4j.core.weights.binding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.testing.ForwardingWeightSource;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.WeightBindingException;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightBinderTest {
    static final LoadOptions STRICT =
            new LoadOptions(FluxDevice.cpu(), ComputeDtype.F32, DequantArithmetic.EXACT_FLOAT32, true);

    static final LoadOptions LENIENT =
            new LoadOptions(FluxDevice.cpu(), ComputeDtype.F32, DequantArithmetic.EXACT_FLOAT32, false);

    @TempDir
    Path dir;

    private static ByteBuffer floats(int n, float start) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat(start + i);
        }
        return b.flip();
    }

    /** A toy model: two linears under "a.b" [4, 2] with bias, plus a tensor "s" [2]. */
    private record Toy(LinearOp lin, LinearOp whole, Tensor s, LoadedWeights weights) {
        static Toy bind(WeightPath w) {
            WeightPath ab = w.at("a").at("b");
            return new Toy(ab.linear("lin", 4, 2), ab.linear("whole", 4, 2), w.tensor("s", 2), w.weights());
        }
    }

    private Path file(boolean withExtra, long[] sShape) throws IOException {
        GgufWriter w = GgufWriter.create()
                .addTensor("a.b.lin.weight", GgmlType.F32, new long[] {4, 2}, floats(8, 0))
                .addTensor("a.b.lin.bias", GgmlType.F32, new long[] {4}, floats(4, 100))
                .addTensor("a.b.whole.weight", GgmlType.F32, new long[] {4, 2}, floats(8, 0))
                .addTensor("a.b.whole.bias", GgmlType.F32, new long[] {4}, floats(4, 100))
                .addTensor("s", GgmlType.F32, sShape, floats((int) sShape[0], 7));
        if (withExtra) {
            w.addTensor("extra", GgmlType.F32, new long[] {1}, floats(1, 0));
        }
        Path p = dir.resolve("toy" + System.nanoTime() + ".gguf");
        w.write(p);
        return p;
    }

    @Test
    void boundLinearsAndTensorsComputeFromTheFile() throws IOException {
        try (WeightSource src = WeightSource.open(file(false, new long[] {2}))) {
            Toy toy = WeightBinder.bind(src, STRICT, "a toy", Toy::bind);
            try (LoadedWeights weights = toy.weights();
                    PointerScope scope = new PointerScope()) {
                assertThat(weights.linearCount()).isEqualTo(2);
                assertThat(weights.tensorCount()).isEqualTo(1);
                assertThat(weights.leftovers()).isEmpty();
                Tensor x = Tensor.create(new float[] {1f, 2f}, 1, 2);
                float[] whole = values(toy.whole().forward(x));
                float[] lin = values(toy.lin().forward(x));
                // rows 0..3 of [[0,1],[2,3],[4,5],[6,7]] . (1,2) + (100..103)
                assertThat(whole).containsExactly(102f, 109f, 116f, 123f);
                assertThat(lin).containsExactly(102f, 109f, 116f, 123f);
                assertThat(values(toy.s())).containsExactly(7f, 8f);
            }
        }
    }

    @Test
    void everyBufferReadIsGivenBackOnceCopied() throws IOException {
        try (WeightSource file = WeightSource.open(file(false, new long[] {2}))) {
            Releases src = new Releases(file);
            Toy toy = WeightBinder.bind(src, STRICT, "a toy", Toy::bind);
            try (LoadedWeights weights = toy.weights();
                    PointerScope scope = new PointerScope()) {
                // 2 weights, 2 biases and s, each read once and unmapped by the GGUF source at once
                assertThat(src.reads).hasSize(5);
                assertThat(src.released).hasSize(5);
                for (int i = 0; i < 5; i++) {
                    assertThat(src.released.get(i)).isSameAs(src.reads.get(i));
                }
                assertThat(src.unmapped).isEqualTo(5);
                // the weights were copied before their mappings went: the values are the file's
                Tensor x = Tensor.create(new float[] {1f, 2f}, 1, 2);
                assertThat(values(toy.lin().forward(x))).containsExactly(102f, 109f, 116f, 123f);
                assertThat(values(toy.s())).containsExactly(7f, 8f);
            }
        }
    }

    /** Delegates to a source, recording the buffers it reads and those given back. */
    private static final class Releases extends ForwardingWeightSource {
        final List<ByteBuffer> reads = new ArrayList<>();
        final List<ByteBuffer> released = new ArrayList<>();
        int unmapped;

        Releases(WeightSource inner) {
            super(inner);
        }

        @Override
        public ByteBuffer read(WeightInfo tensor) {
            ByteBuffer b = inner.read(tensor);
            reads.add(b);
            return b;
        }

        @Override
        public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
            throw new AssertionError("the binder reads whole tensors");
        }

        @Override
        public boolean release(ByteBuffer buffer) {
            released.add(buffer);
            boolean now = inner.release(buffer);
            unmapped += now ? 1 : 0;
            return now;
        }
    }

    private static float[] values(Tensor t) {
        Tensor c = t.contiguous();
        float[] out = new float[(int) c.numel()];
        c.data_ptr_float().get(out);
        return out;
    }

    @Test
    void nothingIsLoadedWhenTheCheckFails() throws IOException {
        List<Boolean> runs = new ArrayList<>();
        try (WeightSource src = WeightSource.open(file(true, new long[] {3}))) {
            assertThatThrownBy(() -> WeightBinder.bind(src, STRICT, "a toy", w -> {
                        runs.add(w.checking());
                        return Toy.bind(w);
                    }))
                    .isInstanceOfSatisfying(WeightBindingException.class, e -> {
                        assertThat(e.problems())
                                .extracting(WeightBindingException.Problem::kind)
                                .containsExactly(
                                        WeightBindingException.Kind.SHAPE, WeightBindingException.Kind.UNEXPECTED);
                        assertThat(e.getMessage())
                                .contains("does not fit a toy", "s: expected [2], found F32 [3]", "extra");
                    });
            assertThat(runs).containsExactly(true); // the load run never started
        }
    }

    @Test
    void aCheckAskingForFarMoreTensorsThanTheSourceHoldsStopsEarly() throws IOException {
        try (WeightSource src = WeightSource.open(file(true, new long[] {2}))) {
            int held = src.tensors().size();
            // As a model built from a config.json saying 2147483647 layers: the check must not visit them all.
            assertThatThrownBy(() -> WeightBinder.bind(src, STRICT, "a deep toy", w -> {
                        for (int i = 0; i < Integer.MAX_VALUE; i++) {
                            w.at("layers").at(i).tensor("weight", 2);
                        }
                        return null;
                    }))
                    .isInstanceOfSatisfying(WeightBindingException.class, e -> {
                        assertThat(e.problems()).hasSize(21);
                        assertThat(e.problems().get(0).name()).isEqualTo("layers.0.weight");
                        assertThat(e.getMessage())
                                .contains(
                                        "does not fit a deep toy",
                                        "and more: the configuration asks for over " + (held + 65)
                                                + " tensors the source does not have, while it holds " + held
                                                + " in all");
                    });
        }
    }

    @Test
    void placeholdersRefuseToRunAndTensorsCannotBeBoundTwice() throws IOException {
        try (WeightSource src = WeightSource.open(file(false, new long[] {2}))) {
            assertThatThrownBy(() -> WeightBinder.bind(src, STRICT, "a toy", w -> {
                        LinearOp op = w.at("a").at("b").linear("whole", 4, 2);
                        assertThat(w.checking()).isTrue();
                        return op.forward(new Tensor());
                    }))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("a.b.whole")
                    .hasMessageContaining("placeholder");
            assertThatThrownBy(() -> WeightBinder.bind(src, STRICT, "a toy", w -> {
                        w.tensor("s", 2);
                        return w.tensor("s", 2);
                    }))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("s bound twice");
        }
    }

    @Test
    void pathsSpellTheNames() throws IOException {
        try (WeightSource src = WeightSource.open(file(false, new long[] {2}))) {
            LoadedWeights loaded = WeightBinder.bind(src, LENIENT, "names", w -> {
                WeightPath p = w.at("double_blocks").at(3).at("adaLN_modulation.1");
                assertThat(p.name("weight")).isEqualTo("double_blocks.3.adaLN_modulation.1.weight");
                assertThat(p.toString()).isEqualTo("double_blocks.3.adaLN_modulation.1");
                assertThat(w.has("s")).isTrue();
                assertThat(w.at("a").has("b.lin.bias")).isTrue();
                assertThat(w.info("nope")).isEmpty();
                assertThatThrownBy(() -> w.at("")).isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> w.at(-1)).isInstanceOf(IllegalArgumentException.class);
                return w.weights();
            });
            assertThat(loaded.leftovers()).hasSize(5); // lenient: nothing bound, all listed
            loaded.close();
        }
    }
}
