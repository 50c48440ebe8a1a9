package io.github.flux4j.core.torch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * PinnedHostMemory's chunking and the RAM that moving weights into it holds, on a CPU: chunks come
 * from {@code malloc} with every page touched at once, as {@code cudaHostAlloc} locks them (what
 * {@code Offload.MODEL} does on CUDA, {@code LoadedWeights.pinHostMemory}: each tensor's storage
 * replaced by its copy with {@code set_data}).
 */
class PinnedHostMemoryTest {
    private static final long MIB = 1L << 20;

    /** malloc + memset: resident from the start, like page-locked memory; counts what is live. */
    private static final class TouchedRegions implements PinnedHostMemory.Regions {
        final List<Pointer> live = new ArrayList<>();
        final List<Long> sizes = new ArrayList<>();

        @Override
        public Pointer allocate(long bytes, String context) {
            Pointer p = Pointer.malloc(bytes);
            assertThat(p.isNull()).as("malloc of %d bytes %s", bytes, context).isFalse();
            Pointer.memset(p, 1, bytes);
            live.add(p);
            sizes.add(bytes);
            return p;
        }

        @Override
        public void free(Pointer region) {
            assertThat(live.remove(region)).isTrue();
            Pointer.free(region);
        }
    }

    @Test
    void chunksAreAllocatedAsTheCopiesReachThemAndHoldTheValues() {
        TouchedRegions regions = new TouchedRegions();
        try (PointerScope scope = new PointerScope()) {
            Tensor[] ts = {ramp(100), ramp(300), ramp(50), ramp(1000)};
            long[] bytes = new long[ts.length];
            for (int i = 0; i < ts.length; i++) {
                bytes[i] = ts[i].nbytes();
            }
            // 400, 1200, 200 and 4000 bytes, each at a 256-byte boundary, in chunks of at most 2048:
            // [512 + 1280 + 256] and [4096] (a tensor larger than a chunk gets one of its own)
            PinnedHostMemory m = PinnedHostMemory.forTensors(bytes, regions, 2048);
            try {
                assertThat(m.bytes()).isZero();
                Tensor[] copies = new Tensor[ts.length];
                for (int i = 0; i < ts.length; i++) {
                    copies[i] = m.copyOf(ts[i]);
                    assertThat(copies[i].equal(ts[i])).isTrue();
                    assertThat(m.bytes()).as("after tensor %d", i).isEqualTo(i < 3 ? 2048 : 2048 + 4096);
                }
                assertThat(regions.sizes).containsExactly(2048L, 4096L);
                assertThatThrownBy(() -> m.copyOf(ts[0]))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("more bytes than planned");
                for (Tensor c : copies) {
                    c.close();
                }
            } finally {
                m.close();
            }
            assertThat(regions.live).isEmpty();
            assertThatThrownBy(() -> m.copyOf(ts[0]))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        }
    }

    @Test
    void movingWeightsInHoldsThemOnceAndAtMostAChunkMore() {
        // 12 weights of 40 MiB (above glibc's largest mmap threshold, so a freed storage goes back
        // to the system at once) moved in as LoadedWeights.pinHostMemory does; chunks of 128 MiB
        // hold three each. Locking every chunk up front, or keeping the pageable storage, would
        // hold 480 MiB more at the peak.
        TouchedRegions regions = new TouchedRegions();
        long chunk = 128 * MIB;
        long tensorBytes = 40 * MIB;
        try (PointerScope scope = new PointerScope()) {
            List<Tensor> weights = new ArrayList<>();
            double[] sums = new double[12];
            for (int i = 0; i < 12; i++) {
                Tensor t = torch.rand(
                        new long[] {tensorBytes / 4},
                        new GeneratorOptional(torch.make_generator_cpu(i)),
                        new TensorOptions(ScalarType.Float));
                weights.add(t);
                sums[i] = t.sum().item_double();
            }
            long[] bytes = weights.stream().mapToLong(Tensor::nbytes).toArray();
            System.gc();
            NativeMemory.trim();
            long before = NativeMemory.rssBytes();
            PinnedHostMemory m = PinnedHostMemory.forTensors(bytes, regions, chunk);
            long peak = before;
            try {
                for (Tensor t : weights) {
                    try (PointerScope step = new PointerScope()) {
                        Tensor copy = m.copyOf(t);
                        peak = Math.max(peak, NativeMemory.rssBytes()); // both copies alive here
                        t.__dispatch_set_data(copy); // the pageable storage goes with its last reference
                    }
                }
                long after = NativeMemory.rssBytes();
                System.out.printf(
                        "pinning 480 MiB in 128 MiB chunks: RSS before %d MiB, peak +%d MiB, after %+d MiB%n",
                        before / MIB, (peak - before) / MIB, (after - before) / MIB);
                assertThat(regions.sizes).hasSize(4);
                for (int i = 0; i < weights.size(); i++) {
                    assertThat(weights.get(i).sum().item_double()).isEqualTo(sums[i]);
                }
                long slack = 64 * MIB; // the JVM's own growth while sampling
                assertThat(peak - before).as("peak above the weights").isLessThanOrEqualTo(chunk + slack);
                assertThat(after - before).as("after: the weights once").isLessThanOrEqualTo(slack);
            } finally {
                weights.forEach(Tensor::close);
                m.close();
            }
            assertThat(regions.live).isEmpty();
        }
    }

    private static Tensor ramp(long n) {
        return torch.arange(new org.bytedeco.pytorch.Scalar(n)).to(ScalarType.Float);
    }
}
