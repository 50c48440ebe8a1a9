package io.github.flux4j.core.offload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Block streaming on a real GPU: pinned host buffers, the side stream and its events. The output
 * must be bit-identical to the same model resident on the GPU (the same kernels run on the same
 * bytes), over several forwards (the prefetch ring wraps around), and only the arenas (not the
 * streamed blocks) may occupy device memory. Skipped without CUDA.
 */
class BlockStreamerCudaTest {
    static final FluxDevice GPU = FluxDevice.cuda(0);

    @TempDir
    static Path dir;

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
    }

    @ParameterizedTest
    @EnumSource(
            value = Variant.class,
            names = {"DEV_BF16", "DEV_Q4_K", "DEV_Q8_0"})
    void streamedForwardsAreBitIdenticalToResidentOnes(Variant v) throws IOException {
        Path file = TinyFluxFiles.write(v, dir);
        LoadOptions cpu = LoadOptions.defaults().withDtype(ComputeDtype.BF16);
        try (FluxTransformer m = GgufTransformer.load(file, cpu);
                PointerScope scope = new PointerScope()) {
            List<BlockLayout> layouts = BlockStreamer.layouts(StreamableBlocks.of(m));
            long base = allocated();
            m.moveTo(GPU);
            torch_cuda.device_synchronize();
            long modelBytes = allocated() - base;
            Tensor expected = StreamerInputs.forward(m, 16, 7).cpu();
            m.moveTo(FluxDevice.cpu());
            Torch.emptyCudaCache();
            long before = allocated();
            try (BlockStreamer s =
                    BlockStreamer.attach(StreamableBlocks.of(m), GPU, new TreeSet<>(List.of(0, 1, 2, 3)))) {
                m.moveTo(GPU); // the rest of the model: embedders and final layer
                torch_cuda.device_synchronize();
                long streamedBytes =
                        layouts.stream().mapToLong(BlockLayout::totalBytes).sum();
                assertThat(s.hostBytes()).isEqualTo(streamedBytes);
                for (int i = 0; i < 3; i++) {
                    Tensor out = StreamerInputs.forward(m, 16, 7);
                    assertThat(out.is_cuda()).isTrue();
                    assertThat(torch.equal(out.cpu(), expected))
                            .as("%s forward %d", v, i)
                            .isTrue();
                }
                torch_cuda.device_synchronize();
                long resident = allocated() - before;
                // arenas + the unstreamed rest; no streamed block is left on the device
                long blockBytes = layouts.stream()
                        .flatMap(l -> l.entries().stream())
                        .mapToLong(BlockLayout.Entry::bytes)
                        .sum();
                assertThat(resident).isLessThan(2 * s.arenaBytes() + (modelBytes - blockBytes) + (1 << 20));
            }
            // closed: the blocks are back on the CPU, the model runs unstreamed again
            m.moveTo(GPU);
            assertThat(torch.equal(StreamerInputs.forward(m, 16, 7).cpu(), expected))
                    .isTrue();
        }
    }

    private static long allocated() {
        return torch_cuda
                .getAllocator()
                .getDeviceStats((byte) 0)
                .allocated_bytes()
                .current();
    }
}
