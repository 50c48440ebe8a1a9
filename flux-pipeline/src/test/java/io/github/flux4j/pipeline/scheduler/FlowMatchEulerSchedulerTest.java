package io.github.flux4j.pipeline.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.pipeline.latents.LatentGeometry;
import io.github.flux4j.pipeline.testing.RefData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * Against tools/reference/scheduler_refs.py: diffusers' FlowMatchEulerDiscreteScheduler driven as
 * FluxPipeline drives it (schedules bit for bit, Euler steps byte for byte on the CPU).
 */
@SuppressWarnings("try") // PointerScopes are opened for their side effect
class FlowMatchEulerSchedulerTest {
    private static final Path DIR = RefData.ROOT.resolve("scheduler");
    private static final JsonNode CASES =
            RefData.json(DIR.resolve("schedules.json")).get("cases");

    private static FlowMatchEulerScheduler scheduler(String config) throws IOException {
        return new FlowMatchEulerScheduler(
                FlowMatchEulerSchedulerConfig.read(DIR.resolve("configs").resolve(config + ".json")));
    }

    @Test
    void pipelineSchedulesAreBitIdenticalToDiffusers() throws IOException {
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (JsonNode c : CASES) {
            if (!c.get("mode").asText().equals("sigmas")) {
                continue;
            }
            String id = c.get("config").asText() + " steps=" + c.get("steps").asInt() + " "
                    + c.get("height").asInt() + "x" + c.get("width").asInt();
            FlowMatchEulerScheduler s = scheduler(c.get("config").asText());
            int steps = c.get("steps").asInt();
            int seq = new LatentGeometry(c.get("height").asInt(), c.get("width").asInt(), 8).imageSeqLen();
            if (seq != c.get("image_seq_len").asInt()) {
                failures.add(id + ": image_seq_len " + seq);
            }
            if (!java.util.Arrays.equals(
                    RefData.bits(FlowMatchEulerScheduler.fluxSigmas(steps)),
                    RefData.bits(RefData.doubles(c.get("input_sigmas"))))) {
                failures.add(id + ": linspace sigmas");
            }
            double mu = s.calculateShift(seq);
            if (Double.doubleToRawLongBits(mu)
                    != Double.doubleToRawLongBits(c.get("mu").asDouble())) {
                failures.add(id + ": mu " + mu + " vs " + c.get("mu").asDouble());
            }
            Schedule schedule = s.fluxSchedule(steps, seq);
            compare(id, schedule, c, failures);
            checked++;
        }
        assertThat(checked).isGreaterThan(130);
        assertThat(failures).isEmpty();
    }

    @Test
    void numInferenceStepsSchedulesAreBitIdenticalToDiffusers() throws IOException {
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (JsonNode c : CASES) {
            if (!c.get("mode").asText().equals("steps")) {
                continue;
            }
            String id = c.get("config").asText() + " steps=" + c.get("steps").asInt() + " mu=" + c.get("mu");
            Double mu = c.get("mu").isNull() ? null : c.get("mu").asDouble();
            compare(
                    id,
                    scheduler(c.get("config").asText())
                            .setTimesteps(c.get("steps").asInt(), mu),
                    c,
                    failures);
            checked++;
        }
        assertThat(checked).isEqualTo(24);
        assertThat(failures).isEmpty();
    }

    private static void compare(String id, Schedule schedule, JsonNode c, List<String> failures) {
        float[] sigmas = RefData.floats(c.get("sigmas"));
        float[] timesteps = RefData.floats(c.get("timesteps"));
        if (!java.util.Arrays.equals(RefData.bits(schedule.sigmas()), RefData.bits(sigmas))) {
            failures.add(id + ": sigmas " + java.util.Arrays.toString(schedule.sigmas()) + " vs "
                    + java.util.Arrays.toString(sigmas));
        }
        if (!java.util.Arrays.equals(RefData.bits(schedule.timesteps()), RefData.bits(timesteps))) {
            failures.add(id + ": timesteps " + java.util.Arrays.toString(schedule.timesteps()) + " vs "
                    + java.util.Arrays.toString(timesteps));
        }
        if (schedule.numInferenceSteps() != c.get("steps").asInt()) {
            failures.add(id + ": numInferenceSteps " + schedule.numInferenceSteps());
        }
    }

    @Test
    void specTableFor1024SquareAt28Steps() {
        // flux-diffusers-spec.md §1.4, the first and last timesteps (diffusers, [V] on device).
        Schedule s = new FlowMatchEulerScheduler(FlowMatchEulerSchedulerConfig.fluxDev())
                .fluxSchedule(28, LatentGeometry.of(1024, 1024).imageSeqLen());
        assertThat(s.mu().getAsDouble()).isEqualTo(1.15);
        assertThat(s.timestep(0)).isEqualTo(1000f);
        assertThat(s.timestep(1)).isCloseTo(988.4086f, org.assertj.core.data.Offset.offset(1e-4f));
        assertThat(s.timestep(27)).isCloseTo(104.7209f, org.assertj.core.data.Offset.offset(1e-4f));
        assertThat(s.sigma(28)).isZero();
        assertThat(s.sigmas()).hasSize(29);
    }

    @Test
    void eulerStepsAreByteIdenticalToDiffusers() throws IOException {
        Schedule schedule = new FlowMatchEulerScheduler(FlowMatchEulerSchedulerConfig.fluxDev()).fluxSchedule(28, 4096);
        try (SafetensorsFile f = SafetensorsFile.open(DIR.resolve("steps.safetensors"));
                PointerScope scope = new PointerScope()) {
            for (String name : new String[] {"bf16", "f32", "f16", "mixed"}) {
                Tensor x = RefData.tensor(f, "step." + name + ".sample");
                for (int i : new int[] {0, 1, 2, 26, 27}) {
                    if (i == 26) {
                        x = RefData.tensor(f, "step." + name + ".25.prev_sample");
                    }
                    Tensor v = RefData.tensor(f, "step." + name + "." + i + ".model_output");
                    Tensor prev = schedule.step(v, i, x);
                    Tensor expected = RefData.tensor(f, "step." + name + "." + i + ".prev_sample");
                    assertThat(prev.scalar_type().intern())
                            .as(name + " step " + i + " dtype")
                            .isEqualTo(expected.scalar_type().intern());
                    assertThat(RefData.bytes(prev)).as(name + " step " + i).isEqualTo(RefData.bytes(expected));
                    x = prev;
                }
            }
        }
    }

    @Test
    void transformerTimestepIsTheRoundTripDiffusersFeeds() throws IOException {
        Schedule schedule = new FlowMatchEulerScheduler(FlowMatchEulerSchedulerConfig.fluxDev()).fluxSchedule(28, 4096);
        try (SafetensorsFile f = SafetensorsFile.open(DIR.resolve("steps.safetensors"));
                PointerScope scope = new PointerScope()) {
            Device cpu = new Device(DeviceType.CPU);
            for (String[] d : new String[][] {{"bf16", "BFloat16"}, {"f32", "Float"}, {"f16", "Half"}}) {
                Tensor expected = RefData.tensor(f, "timestep." + d[0]);
                TensorVectorHolder rows = new TensorVectorHolder();
                for (int i = 0; i < 28; i++) {
                    rows.add(schedule.transformerTimestep(i, 2, ScalarType.valueOf(d[1]), cpu));
                }
                assertThat(RefData.bytes(torch.stack(rows.vector))).as(d[0]).isEqualTo(RefData.bytes(expected));
            }
        }
    }

    /** A TensorVector that keeps its elements reachable. */
    private static final class TensorVectorHolder {
        final org.bytedeco.pytorch.TensorVector vector = new org.bytedeco.pytorch.TensorVector();

        void add(Tensor t) {
            vector.push_back(t);
        }
    }

    @Test
    void indexForTimestepTakesTheSecondOfRepeatedValues() {
        Schedule s = new Schedule(new float[] {1f, 1f, 0.5f, 0f}, new float[] {1000f, 1000f, 500f}, null);
        assertThat(s.indexForTimestep(1000f)).isEqualTo(1);
        assertThat(s.indexForTimestep(500f)).isEqualTo(2);
        assertThatThrownBy(() -> s.indexForTimestep(42f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("42.0");
    }

    @Test
    void refusesBadArguments() {
        FlowMatchEulerScheduler dev = new FlowMatchEulerScheduler(FlowMatchEulerSchedulerConfig.fluxDev());
        assertThatThrownBy(() -> dev.setTimesteps(new double[] {1.0, 0.5}, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("mu");
        assertThatThrownBy(() -> dev.fluxSchedule(0, 4096))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 1");
        assertThatThrownBy(() -> FlowMatchEulerScheduler.calculateShift(-1, 256, 4096, 0.5, 1.15))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("imageSeqLen");
        FlowMatchEulerScheduler terminal = new FlowMatchEulerScheduler(new FlowMatchEulerSchedulerConfig(
                1000, 3.0, true, 0.5, 1.15, 256, 4096, false, 0.1, TimeShiftType.EXPONENTIAL));
        assertThatThrownBy(() -> terminal.fluxSchedule(1, 4096))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("shift_terminal");
        Schedule s = dev.fluxSchedule(4, 4096);
        try (PointerScope scope = new PointerScope()) {
            Tensor a = torch.zeros(new long[] {1, 4, 64}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Float));
            Tensor b = torch.zeros(new long[] {1, 5, 64}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Float));
            Tensor ints = torch.zeros(new long[] {1, 4, 64}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Long));
            assertThatThrownBy(() -> s.step(a, 0, b))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("same shape");
            assertThatThrownBy(() -> s.step(a, 4, a)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> s.step(ints, 0, a))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("modelOutput");
            assertThatThrownBy(() -> s.transformerTimestep(0, 0, ScalarType.Float, new Device(DeviceType.CPU)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("batch");
        }
    }

    @Test
    void stepFreesItsTemporaries() {
        Schedule s = new FlowMatchEulerScheduler(FlowMatchEulerSchedulerConfig.fluxDev()).fluxSchedule(4, 4096);
        try (PointerScope outer = new PointerScope()) {
            Tensor x = torch.ones(new long[] {1, 8, 64}, new org.bytedeco.pytorch.TensorOptions(ScalarType.BFloat16));
            Tensor v = torch.ones(new long[] {1, 8, 64}, new org.bytedeco.pytorch.TensorOptions(ScalarType.BFloat16));
            Device cpu = new Device(DeviceType.CPU);
            s.step(v, 0, x).close(); // warm-up: lazily created native singletons
            long before = NativeMemory.livePointers();
            for (int i = 0; i < 200; i++) {
                s.step(v, i % 4, x).close();
                s.transformerTimestep(i % 4, 2, ScalarType.BFloat16, cpu).close();
            }
            // Each call leaves nothing behind but its result, which was closed.
            assertThat(NativeMemory.livePointers() - before).isLessThan(10);
        }
    }
}
