package io.github.flux4j.pipeline.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.pipeline.testing.RefData;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class FlowMatchEulerSchedulerConfigTest {
    private static final Path CONFIGS = RefData.ROOT.resolve("scheduler/configs");

    @Test
    void readsTheHubConfigsOfDevAndSchnell() throws IOException {
        assertThat(FlowMatchEulerSchedulerConfig.read(CONFIGS.resolve("dev.json")))
                .isEqualTo(FlowMatchEulerSchedulerConfig.fluxDev());
        assertThat(FlowMatchEulerSchedulerConfig.read(CONFIGS.resolve("schnell.json")))
                .isEqualTo(FlowMatchEulerSchedulerConfig.fluxSchnell());
    }

    @Test
    void readsTheDocumentedOptions() throws IOException {
        FlowMatchEulerSchedulerConfig terminal =
                FlowMatchEulerSchedulerConfig.read(CONFIGS.resolve("dev-shift-terminal.json"));
        assertThat(terminal.shiftTerminal()).isEqualTo(0.1);
        assertThat(FlowMatchEulerSchedulerConfig.read(CONFIGS.resolve("dev-invert.json"))
                        .invertSigmas())
                .isTrue();
        assertThat(FlowMatchEulerSchedulerConfig.read(CONFIGS.resolve("dev-linear.json"))
                        .timeShiftType())
                .isEqualTo(TimeShiftType.LINEAR);
    }

    @Test
    void absentKeysTakeDiffusersDefaults() {
        assertThat(FlowMatchEulerSchedulerConfig.parse("{}", "x")).isEqualTo(FlowMatchEulerSchedulerConfig.defaults());
        FlowMatchEulerSchedulerConfig d = FlowMatchEulerSchedulerConfig.defaults();
        assertThat(d.numTrainTimesteps()).isEqualTo(1000);
        assertThat(d.shift()).isEqualTo(1.0);
        assertThat(d.useDynamicShifting()).isFalse();
        assertThat(d.timeShiftType()).isEqualTo(TimeShiftType.EXPONENTIAL);
    }

    @Test
    void ignoresUnknownKeysAndMetadataAndNulls() {
        FlowMatchEulerSchedulerConfig c = FlowMatchEulerSchedulerConfig.parse("""
                {"_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.32.0",
                 "shift": 3, "use_dynamic_shifting": true, "shift_terminal": null, "use_karras_sigmas": false,
                 "use_flow_sigmas": true, "some_future_option": [1, 2]}""", "cfg.json");
        assertThat(c.shift()).isEqualTo(3.0);
        assertThat(c.useDynamicShifting()).isTrue();
        assertThat(c.shiftTerminal()).isNull();
    }

    @Test
    void integersMayBeWrittenAsWholeNumbers() {
        FlowMatchEulerSchedulerConfig c = FlowMatchEulerSchedulerConfig.parse(
                "{\"num_train_timesteps\": 1000.0, \"base_image_seq_len\": 256.0, \"max_image_seq_len\": 4096}", "x");
        assertThat(c).isEqualTo(FlowMatchEulerSchedulerConfig.defaults());
    }

    @Test
    void zeroShiftTerminalMeansNone() {
        // diffusers tests `if self.config.shift_terminal:`
        assertThat(FlowMatchEulerSchedulerConfig.parse("{\"shift_terminal\": 0.0}", "x")
                        .shiftTerminal())
                .isNull();
    }

    @Test
    void refusesAnUnknownTimeShiftTypeNamingTheField() {
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"time_shift_type\": \"foo\"}", "s.json"))
                .isInstanceOf(SchedulerConfigException.class)
                .hasMessageContaining("s.json")
                .hasMessageContaining("time_shift_type")
                .hasMessageContaining("'foo'")
                .hasMessageContaining("exponential, linear");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"time_shift_type\": \"Linear\"}", "s.json"))
                .hasMessageContaining("lower case");
    }

    @Test
    void refusesOptionsFluxNeverUses() {
        for (String flag :
                new String[] {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "stochastic_sampling"
                }) {
            assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"" + flag + "\": true}", "s.json"))
                    .isInstanceOf(SchedulerConfigException.class)
                    .hasMessageContaining("s.json: " + flag + " = true is not supported");
        }
    }

    @Test
    void refusesWrongTypesNamingTheField() {
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"shift\": \"3.0\"}", "s.json"))
                .isInstanceOf(SchedulerConfigException.class)
                .hasMessageContaining("s.json: shift must be a number");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"num_train_timesteps\": 999.5}", "s.json"))
                .hasMessageContaining("num_train_timesteps must be an integer");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"use_dynamic_shifting\": 1}", "s.json"))
                .hasMessageContaining("use_dynamic_shifting must be true or false");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"base_shift\": null}", "s.json"))
                .hasMessageContaining("base_shift must be a number, got null");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"time_shift_type\": 3}", "s.json"))
                .hasMessageContaining("time_shift_type must be a string");
    }

    @Test
    void refusesValuesOutOfRange() {
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"shift\": 0}", "s.json"))
                .isInstanceOf(SchedulerConfigException.class)
                .hasMessageContaining("s.json: shift must be");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"shift_terminal\": 1.0}", "s.json"))
                .hasMessageContaining("shift_terminal must be in [0, 1)");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse(
                        "{\"base_image_seq_len\": 4096, \"max_image_seq_len\": 4096}", "s.json"))
                .hasMessageContaining("base_image_seq_len < max_image_seq_len");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"num_train_timesteps\": 0}", "s.json"))
                .hasMessageContaining("num_train_timesteps must be positive");
    }

    @Test
    void refusesAnotherSchedulerClassAndBadJson() {
        assertThatThrownBy(() ->
                        FlowMatchEulerSchedulerConfig.parse("{\"_class_name\": \"EulerDiscreteScheduler\"}", "s.json"))
                .isInstanceOf(SchedulerConfigException.class)
                .hasMessageContaining("_class_name is 'EulerDiscreteScheduler'");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"shift\": 3,}", "s.json"))
                .isInstanceOf(SchedulerConfigException.class)
                .hasMessageContaining("s.json: not valid JSON");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("[1]", "s.json"))
                .hasMessageContaining("expected a JSON object");
        assertThatThrownBy(() -> FlowMatchEulerSchedulerConfig.parse("{\"shift\": 3, \"shift\": 1}", "s.json"))
                .hasMessageContaining("not valid JSON");
    }
}
