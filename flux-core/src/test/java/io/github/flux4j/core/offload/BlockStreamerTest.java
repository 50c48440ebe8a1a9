package io.github.flux4j.core.offload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.gguf.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Block streaming on the CPU (synchronous copies; the same packing, layouts and re-pointing as on
 * CUDA): the blocks list exactly the checkpoint's tensors, the output is bit-identical to the
 * unstreamed model, and closing the streamer gives the model its weights back.
 */
class BlockStreamerTest {
    @TempDir
    static Path dir;

    private static FluxTransformer load(Variant v, ComputeDtype dtype) throws IOException {
        return GgufTransformer.load(
                TinyFluxFiles.write(v, dir), LoadOptions.defaults().withDtype(dtype));
    }

    @ParameterizedTest
    @EnumSource(
            value = Variant.class,
            names = {"DEV_F32", "DEV_Q8_0", "DEV_Q4_K"})
    void blockParametersAreTheCheckpointsBlockTensors(Variant v) throws IOException {
        Path file = TinyFluxFiles.write(v, dir);
        long fileBlockBytes = 0;
        List<String> fileNames = new ArrayList<>();
        try (GgufFile gguf = GgufFile.open(file)) {
            for (TensorInfo t : gguf.tensors()) {
                if (t.name().startsWith("double_blocks.") || t.name().startsWith("single_blocks.")) {
                    fileBlockBytes += t.byteSize();
                    fileNames.add(t.name());
                }
            }
        }
        try (FluxTransformer m = load(v, ComputeDtype.F32)) {
            assertThat(StreamableBlocks.of(m).blockCount())
                    .isEqualTo(TinyFluxFiles.NUM_DOUBLE + TinyFluxFiles.NUM_SINGLE);
            List<String> names = new ArrayList<>();
            long[] bytes = {0};
            for (int b = 0; b < StreamableBlocks.of(m).blockCount(); b++) {
                StreamableBlocks.of(m).forEachBlockParameter(b, (n, t) -> {
                    // a split qkv / linear1 is listed as its row blocks: name them as the file does
                    names.add(n.replaceAll("\\.(qkv|linear1)\\.\\d+\\.", ".$1."));
                    bytes[0] += t.nbytes();
                });
            }
            assertThat(new TreeSet<>(names)).containsExactlyElementsOf(new TreeSet<>(fileNames));
            // F32 compute: vectors stay F32, quantized matrices travel as their packed bytes
            assertThat(bytes[0]).isEqualTo(fileBlockBytes);
            List<BlockLayout> layouts = BlockStreamer.layouts(StreamableBlocks.of(m));
            assertThat(layouts).hasSize(StreamableBlocks.of(m).blockCount());
            assertThat(layouts.get(0).totalBytes())
                    .isGreaterThanOrEqualTo(layouts.get(0).entries().stream()
                            .mapToLong(BlockLayout.Entry::bytes)
                            .sum());
            assertThatThrownBy(() -> StreamableBlocks.of(m)
                            .forEachBlockParameter(StreamableBlocks.of(m).blockCount(), (n, t) -> {}))
                    .isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Variant.class,
            names = {"DEV_BF16", "DEV_Q4_K", "SCHNELL_Q8_0"})
    void streamingGivesBitIdenticalOutputs(Variant v) throws IOException {
        try (FluxTransformer m = load(v, ComputeDtype.BF16);
                PointerScope scope = new PointerScope()) {
            Tensor expected = StreamerInputs.forward(m, 12, 5);
            List<BlockLayout> layouts = BlockStreamer.layouts(StreamableBlocks.of(m));
            for (TreeSet<Integer> streamed : List.of(
                    new TreeSet<>(List.of(0, 1, 2, 3)), new TreeSet<>(List.of(1, 3)), new TreeSet<>(List.of(2)))) {
                try (BlockStreamer s = BlockStreamer.attach(StreamableBlocks.of(m), FluxDevice.cpu(), streamed)) {
                    assertThat(StreamableBlocks.of(m).blockHook()).isSameAs(s);
                    assertThat(s.arenaCount()).isEqualTo(Math.min(2, streamed.size()));
                    long sum = 0;
                    for (int b : streamed) {
                        sum += layouts.get(b).totalBytes();
                    }
                    assertThat(s.hostBytes()).isEqualTo(sum);
                    // between forwards, the streamed tensors hold no storage
                    StreamableBlocks.of(m)
                            .forEachBlockParameter(
                                    streamed.first(),
                                    (n, t) -> assertThat(t.numel()).as(n).isZero());
                    for (int i = 0; i < 3; i++) { // the ring wraps around across forwards
                        assertThat(torch.equal(StreamerInputs.forward(m, 12, 5), expected))
                                .as("%s forward %d", streamed, i)
                                .isTrue();
                    }
                }
                assertThat(StreamableBlocks.of(m).blockHook()).isNull();
                assertThat(torch.equal(StreamerInputs.forward(m, 12, 5), expected))
                        .as("after close")
                        .isTrue();
            }
        }
    }

    @Test
    void blocksRunOutOfOrderAreStillCorrect() throws IOException {
        // A forward that fails half-way leaves the ring mid-cycle; the next forward must still see
        // the right weights in every block.
        try (FluxTransformer m = load(Variant.DEV_Q8_0, ComputeDtype.F32);
                PointerScope scope = new PointerScope()) {
            Tensor expected = StreamerInputs.forward(m, 8, 3);
            try (BlockStreamer s = BlockStreamer.attach(
                    StreamableBlocks.of(m), FluxDevice.cpu(), new TreeSet<>(List.of(0, 1, 2, 3)))) {
                s.beforeBlock(0);
                s.afterBlock(0);
                s.beforeBlock(2);
                s.afterBlock(2);
                assertThat(torch.equal(StreamerInputs.forward(m, 8, 3), expected))
                        .isTrue();
            }
        }
    }

    @Test
    void badArgumentsAreRejected() throws IOException {
        try (FluxTransformer m = load(Variant.DEV_Q8_0, ComputeDtype.F32)) {
            assertThatThrownBy(() ->
                            BlockStreamer.attach(StreamableBlocks.of(m), FluxDevice.cpu(), new TreeSet<>(List.of(4))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("block 4 does not exist");
            try (BlockStreamer s =
                    BlockStreamer.attach(StreamableBlocks.of(m), FluxDevice.cpu(), new TreeSet<>(List.of(0)))) {
                assertThatThrownBy(() -> BlockStreamer.attach(
                                StreamableBlocks.of(m), FluxDevice.cpu(), new TreeSet<>(List.of(1))))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("block hook already");
            }
            try (BlockStreamer none = BlockStreamer.attach(StreamableBlocks.of(m), FluxDevice.cpu(), new TreeSet<>())) {
                assertThat(none.arenaCount()).isZero();
                assertThat(none.hostBytes()).isZero();
            }
        }
    }

    @Test
    void layoutsAlignEveryTensor() {
        BlockLayout l = BlockLayout.of(List.of("a", "b", "c"), List.of(10L, 256L, 0L));
        assertThat(l.entries()).extracting(BlockLayout.Entry::offset).containsExactly(0L, 256L, 512L);
        assertThat(l.totalBytes()).isEqualTo(512);
        assertThat(BlockLayout.arenaBytes(List.of(l, BlockLayout.of(List.of("x"), List.of(1000L)))))
                .isEqualTo(1024);
        assertThatThrownBy(() -> BlockLayout.of(List.of("a"), List.of(-1L))).hasMessageContaining("tensor a");
        assertThatThrownBy(() -> BlockLayout.of(List.of("a"), List.of())).hasMessageContaining("1 names but 0 sizes");
    }
}
