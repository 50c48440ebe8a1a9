package io.github.flux4j.pipeline.offload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.pipeline.Offload;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The planner's decisions for FLUX.1-dev's real sizes (pure arithmetic): explicit modes, budgets
 * from 80 down to 4 GiB, and the failure below the smallest plan.
 */
class MemoryPlannerTest {
    static final long GIB = 1L << 30;
    static final long MIB = 1L << 20;

    /**
     * FLUX.1-dev in bf16 with a Q8_0 transformer: CLIP-L 246 MB, T5-XXL 9.52 GB, the VAE 168 MB;
     * a Q8_0 double block is 340 MB packed (12 matrices of 3072 columns, 8.5 bits a weight, plus
     * biases and norms), a single block 120 MB; the embedders and final layer 0.16 GB.
     */
    static MemoryPlanner.Sizes fluxDevQ8() {
        long[] blocks = new long[57];
        for (int i = 0; i < 57; i++) {
            blocks[i] = i < 19 ? 340 * MIB : 120 * MIB;
        }
        return new MemoryPlanner.Sizes(246 * MIB, 9_524 * MIB, 168 * MIB, 160 * MIB, blocks);
    }

    /**
     * {@link #fluxDevQ8()} with T5-XXL's block sizes, so that T5 can stream: its token embedding
     * is 32128 x 4096 bf16 (251 MiB), each of its 24 blocks 386 MiB.
     */
    static MemoryPlanner.Sizes fluxDevQ8StreamableT5() {
        MemoryPlanner.Sizes s = fluxDevQ8();
        long[] t5Blocks = new long[24];
        java.util.Arrays.fill(t5Blocks, 386 * MIB);
        return new MemoryPlanner.Sizes(
                s.clipBytes(), s.t5Bytes(), s.vaeBytes(), s.transformerOtherBytes(), s.blockBytes(), t5Blocks);
    }

    static MemoryPlanner.Workload work1024() {
        long h = 3072;
        long mlp = 4 * h;
        return MemoryPlanner.Workload.estimate(
                1024, 1024, 1, 28, h, mlp, 6 * h * h, 4096, 10240, 64, 9_524 * MIB, 512, 2);
    }

    @Test
    void explicitModes() {
        MemoryPlanner.Sizes s = fluxDevQ8();
        MemoryPlan none = MemoryPlanner.forMode(Offload.NONE, s, work1024());
        assertThat(List.of(none.clip(), none.t5(), none.transformer(), none.vae()))
                .containsOnly(Placement.RESIDENT);
        assertThat(none.streamedBlocks()).isEmpty();
        assertThat(none.arenaCount()).isZero();
        assertThat(none.movesModels()).isFalse();
        // everything resident: every stage holds all weights
        long all = s.clipBytes() + s.t5Bytes() + s.vaeBytes() + s.transformerBytes();
        assertThat(none.denoisePeakBytes()).isGreaterThan(all);

        MemoryPlan model = MemoryPlanner.forMode(Offload.MODEL, s, work1024());
        assertThat(List.of(model.clip(), model.t5(), model.transformer(), model.vae()))
                .containsOnly(Placement.OFFLOADED);
        assertThat(model.streamedBlocks()).isEmpty();
        assertThat(model.denoisePeakBytes()).isLessThan(none.denoisePeakBytes() - s.t5Bytes());

        MemoryPlan seq = MemoryPlanner.forMode(Offload.SEQUENTIAL, s, work1024());
        assertThat(seq.streamedBlocks()).hasSize(57).first().isEqualTo(0);
        assertThat(seq.arenaCount()).isEqualTo(2);
        assertThat(seq.arenaBytes()).isEqualTo(340 * MIB);
        assertThat(seq.streamedBytes()).isEqualTo(s.blockBytesTotal());
        // only the embedders, two arenas and the activations during denoising
        assertThat(seq.denoisePeakBytes())
                .isEqualTo(
                        160 * MIB + 2 * 340 * MIB + work1024().transformerActivation() + MemoryPlanner.ALLOCATOR_SLACK);
        assertThat(seq.describe(s)).contains("0 of 57 blocks resident, 57 streamed");
    }

    @Test
    void aLargeBudgetKeepsEverythingResident() {
        MemoryPlan p = MemoryPlanner.plan(80 * GIB, fluxDevQ8(), work1024());
        assertThat(List.of(p.clip(), p.t5(), p.transformer(), p.vae())).containsOnly(Placement.RESIDENT);
        assertThat(p.streamedBlocks()).isEmpty();
        assertThat(p.vaeTileSize()).isZero();
        assertThat(p.estimatedOverheadSeconds()).isZero();
    }

    @ParameterizedTest
    @ValueSource(longs = {24, 16, 12, 8, 6, 4})
    void everyBudgetIsRespected(long gib) {
        MemoryPlan p = MemoryPlanner.plan(gib * GIB, fluxDevQ8(), work1024());
        assertThat(p.peakBytes()).isLessThanOrEqualTo(gib * GIB);
        assertThat(p.budgetBytes()).isEqualTo(gib * GIB);
        String text = p.describe(fluxDevQ8());
        assertThat(text)
                .contains("VRAM budget of " + gib + ".00 GiB")
                .contains("text_encoder_2")
                .contains("transformer");
    }

    @Test
    void smallerBudgetsStreamMoreAndNeverGetFaster() {
        long previousStreamed = -1;
        double previousCost = -1;
        for (long gib : new long[] {80, 24, 16, 12, 8, 6, 4}) {
            MemoryPlan p = MemoryPlanner.plan(gib * GIB, fluxDevQ8(), work1024());
            assertThat(p.streamedBytes()).as("%d GiB", gib).isGreaterThanOrEqualTo(previousStreamed);
            assertThat(p.estimatedOverheadSeconds()).as("%d GiB", gib).isGreaterThanOrEqualTo(previousCost);
            previousStreamed = p.streamedBytes();
            previousCost = p.estimatedOverheadSeconds();
        }
    }

    @Test
    void t5GoesToTheCpuOnlyWhenItCannotFitOnTheDevice() {
        // 12 GiB: T5 (9.3 GiB) fits alone on the device during text encoding; moving it (0.8 s)
        // beats running it on the CPU (tens of seconds)
        MemoryPlan twelve = MemoryPlanner.plan(12 * GIB, fluxDevQ8(), work1024());
        assertThat(twelve.t5()).isEqualTo(Placement.OFFLOADED);
        assertThat(twelve.streamedBlocks()).isNotEmpty();
        // 8 GiB: it does not
        MemoryPlan eight = MemoryPlanner.plan(8 * GIB, fluxDevQ8(), work1024());
        assertThat(eight.t5()).isEqualTo(Placement.HOST);
        assertThat(eight.describe(fluxDevQ8())).contains("on the CPU (runs there)");
    }

    @Test
    void sequentialStreamsT5TooAndStaysUnderFourGiB() {
        MemoryPlanner.Sizes s = fluxDevQ8StreamableT5();
        MemoryPlan seq = MemoryPlanner.forMode(Offload.SEQUENTIAL, s, work1024());
        assertThat(seq.t5()).isEqualTo(Placement.STREAMED);
        assertThat(seq.movesModels()).isTrue();
        // T5's stage: the transformer's arenas (allocated for the pipeline's lifetime), T5's
        // embedding, two arenas of one T5 block and T5's activations
        assertThat(seq.textPeakBytes())
                .isEqualTo(2 * 340 * MIB
                        + s.t5OtherBytes()
                        + 2 * 386 * MIB
                        + work1024().t5Activation()
                        + MemoryPlanner.ALLOCATOR_SLACK);
        assertThat(seq.peakBytes()).isLessThan(4 * GIB);
        assertThat(seq.describe(s)).contains("streamed: 24 blocks one at a time through 2 arenas of 0.38 GiB");
        // without T5's block sizes, SEQUENTIAL offloads T5 whole, as before
        assertThat(MemoryPlanner.forMode(Offload.SEQUENTIAL, fluxDevQ8(), work1024())
                        .t5())
                .isEqualTo(Placement.OFFLOADED);
    }

    @ParameterizedTest
    @ValueSource(longs = {8, 6, 4})
    void budgetsStreamT5RatherThanRunItOnTheCpu(long gib) {
        // streaming T5's 9.3 GiB once per generation (~0.4 s) beats running it on the CPU (~16 s)
        MemoryPlan p = MemoryPlanner.plan(gib * GIB, fluxDevQ8StreamableT5(), work1024());
        assertThat(p.t5()).isEqualTo(Placement.STREAMED);
        assertThat(p.peakBytes()).isLessThanOrEqualTo(gib * GIB);
        assertThat(p.estimatedOverheadSeconds())
                .isLessThan(
                        MemoryPlanner.plan(gib * GIB, fluxDevQ8(), work1024()).estimatedOverheadSeconds());
    }

    @Test
    void onlyT5CanStream() {
        MemoryPlanner.Sizes s = fluxDevQ8();
        assertThatThrownBy(() -> MemoryPlanner.evaluate(
                        null,
                        s,
                        work1024(),
                        Placement.RESIDENT,
                        Placement.STREAMED,
                        Placement.RESIDENT,
                        Placement.RESIDENT,
                        0,
                        false))
                .hasMessageContaining("T5 cannot stream");
        assertThatThrownBy(() -> MemoryPlanner.evaluate(
                        null,
                        fluxDevQ8StreamableT5(),
                        work1024(),
                        Placement.STREAMED,
                        Placement.RESIDENT,
                        Placement.RESIDENT,
                        Placement.RESIDENT,
                        0,
                        false))
                .hasMessageContaining("only T5 is STREAMED");
        assertThatThrownBy(() -> new MemoryPlanner.Sizes(0, 10, 0, 0, new long[0], new long[] {6, 6}))
                .hasMessageContaining("cannot be larger than T5");
    }

    @Test
    void residentBlocksAreTheLargestOnes() {
        MemoryPlan p = MemoryPlanner.plan(12 * GIB, fluxDevQ8(), work1024());
        int resident = p.blockCount() - p.streamedBlocks().size();
        assertThat(resident).isPositive().isLessThan(57);
        if (resident >= 19) {
            // every double block resident: what streams are single blocks, and so are the arenas
            assertThat(p.streamedBlocks().first()).isGreaterThanOrEqualTo(19);
            assertThat(p.arenaBytes()).isEqualTo(120 * MIB);
        } else {
            assertThat(p.streamedBlocks()).contains(56);
        }
        assertThat(MemoryPlanner.residencyOrder(new long[] {1, 5, 5, 2})).containsExactly(1, 2, 3, 0);
    }

    @Test
    void aTooSmallBudgetNamesTheSmallestThatWouldDo() {
        assertThatThrownBy(() -> MemoryPlanner.plan(GIB, fluxDevQ8(), work1024()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a VRAM budget of 1.00 GiB is too small for 1024x1024 images")
                .hasMessageContaining("the smallest plan needs about");
        assertThatThrownBy(() -> MemoryPlanner.plan(0, fluxDevQ8(), work1024())).hasMessageContaining("positive");
        assertThatThrownBy(() -> new MemoryPlanner.Sizes(-1, 0, 0, 0, new long[0]))
                .hasMessageContaining("negative");
    }

    @Test
    void smallerImagesNeedLessMemory() {
        long h = 3072;
        MemoryPlanner.Workload small = MemoryPlanner.Workload.estimate(
                496, 680, 1, 60, h, 4 * h, 6 * h * h, 4096, 10240, 64, 9_524 * MIB, 512, 2);
        assertThat(small.transformerActivation()).isLessThan(work1024().transformerActivation());
        assertThat(small.vaeActivation()).isLessThan(work1024().vaeActivation());
        assertThatThrownBy(() -> MemoryPlanner.Workload.estimate(0, 1, 1, 1, h, h, h, 1, 1, 1, 1, 1, 2))
                .hasMessageContaining("positive");
    }
}
