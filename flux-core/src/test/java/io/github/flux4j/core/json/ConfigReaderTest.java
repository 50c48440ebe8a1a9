package io.github.flux4j.core.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.FluxException;
import io.github.flux4j.core.clip.ClipTextConfig;
import io.github.flux4j.core.json.ConfigReader.NullRefused;
import io.github.flux4j.core.json.ConfigReader.WholeNumber;
import io.github.flux4j.core.t5.T5Config;
import io.github.flux4j.core.testing.ConfigFuzz;
import io.github.flux4j.core.testing.Mutator;
import io.github.flux4j.core.vae.VaeConfig;
import io.github.flux4j.core.weights.source.WeightException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigReaderTest {
    /** The documented exception of these tests: message {@code "<source>: <problem>"}. */
    static final class ConfigException extends FluxException {
        private static final long serialVersionUID = 1L;

        ConfigException(String message, @Nullable Throwable cause) {
            super(message, cause);
        }
    }

    private static final ConfigReader READER =
            ConfigReader.of((source, problem, cause) -> new ConfigException(source + ": " + problem, cause));

    /** A configuration with a key of each kind. */
    record Sample(int steps, double shift, boolean dynamic, String name, List<Integer> sizes, int whole, int required) {
        Sample {
            if (steps <= 0) {
                throw new IllegalArgumentException("steps must be positive, got " + steps);
            }
        }

        @JsonCreator
        static Sample fromKeys(
                @JsonProperty("steps") @Nullable Integer steps,
                @JsonProperty("shift") @NullRefused @Nullable Double shift,
                @JsonProperty("dynamic") @Nullable Boolean dynamic,
                @JsonProperty("name") @Nullable String name,
                @JsonProperty("sizes") @Nullable List<Integer> sizes,
                @JsonProperty("whole") @WholeNumber @Nullable Integer whole,
                @JsonProperty("required") @Nullable Integer required) {
            if ("boom".equals(name)) {
                throw new IllegalStateException("a bug, not a bad file");
            }
            return new Sample(
                    Objects.requireNonNullElse(steps, 1000),
                    Objects.requireNonNullElse(shift, 1.0),
                    Objects.requireNonNullElse(dynamic, false),
                    Objects.requireNonNullElse(name, "default"),
                    Objects.requireNonNullElse(sizes, List.of(1)),
                    Objects.requireNonNullElse(whole, 7),
                    ConfigReader.required(required, "required"));
        }
    }

    /** Primitive keys: required, and strict as the boxed ones. */
    record Primitives(
            @JsonProperty("n") int n,
            @JsonProperty("x") double x,
            @JsonProperty("b") boolean b) {}

    /** A nested object, as CLIP's {@code text_config}. */
    record Outer(@JsonProperty("inner") @Nullable Sample inner) {}

    private static Sample parse(String json) {
        return READER.parse(json, "s.json", Sample.class);
    }

    private static String refusal(String json) {
        Throwable t = catchThrowable(() -> parse(json));
        assertThat(t).as(json).isInstanceOf(ConfigException.class);
        return t.getMessage();
    }

    @Test
    void absentKeysTakeTheDefaultsAndUnknownKeysAreIgnored() {
        assertThat(parse("{\"required\": 1, \"unknown\": [1, {\"x\": null}], \"_meta\": 3}"))
                .isEqualTo(new Sample(1000, 1.0, false, "default", List.of(1), 7, 1));
        assertThat(parse("{\"required\": 1, \"steps\": 5, \"shift\": 2, \"dynamic\": true, \"name\": \"n\","
                        + " \"sizes\": [3, 4], \"whole\": 8.0}"))
                .isEqualTo(new Sample(5, 2.0, true, "n", List.of(3, 4), 8, 1));
        // null is absent, except for a @NullRefused key
        assertThat(parse("{\"required\": 1, \"steps\": null, \"dynamic\": null, \"name\": null, \"sizes\": null}"))
                .isEqualTo(new Sample(1000, 1.0, false, "default", List.of(1), 7, 1));
    }

    @Test
    void wrongTypesAreNamedWithTheKeyAndTheValue() {
        assertThat(refusal("{\"required\": 1, \"steps\": 999.5}"))
                .isEqualTo("s.json: steps must be an integer, got 999.5");
        assertThat(refusal("{\"required\": 1, \"steps\": \"5\"}"))
                .isEqualTo("s.json: steps must be an integer, got \"5\"");
        assertThat(refusal("{\"required\": 1, \"steps\": 4294967296}"))
                .isEqualTo("s.json: steps must be a 32-bit integer, got 4294967296");
        assertThat(refusal("{\"required\": 1, \"whole\": 8.5}")).isEqualTo("s.json: whole must be an integer, got 8.5");
        assertThat(refusal("{\"required\": 1, \"shift\": \"3.0\"}"))
                .isEqualTo("s.json: shift must be a number, got \"3.0\"");
        assertThat(refusal("{\"required\": 1, \"shift\": null}")).isEqualTo("s.json: shift must be a number, got null");
        assertThat(refusal("{\"required\": 1, \"shift\": 1e999}"))
                .isEqualTo("s.json: shift must be a finite number, got Infinity");
        assertThat(refusal("{\"required\": 1, \"dynamic\": 1}"))
                .isEqualTo("s.json: dynamic must be true or false, got 1");
        assertThat(refusal("{\"required\": 1, \"name\": [1]}")).isEqualTo("s.json: name must be a string, got [1]");
        assertThat(refusal("{\"required\": 1, \"sizes\": \"x\"}")).isEqualTo("s.json: sizes must be a list, got \"x\"");
        assertThat(refusal("{\"required\": 1, \"sizes\": [1, null]}"))
                .isEqualTo("s.json: sizes[1] must be an integer, got null");
        assertThat(refusal("{\"required\": 1, \"sizes\": [1, [2]]}"))
                .isEqualTo("s.json: sizes[1] must be an integer, got [2]");
        assertThat(refusal("{\"steps\": 1}")).isEqualTo("s.json: required is missing");
        assertThat(refusal("{\"required\": 1, \"steps\": 0}")).isEqualTo("s.json: steps must be positive, got 0");
    }

    @Test
    void primitivesAreStrictAndRequired() {
        assertThat(READER.parse("{\"n\": 1, \"x\": 2, \"b\": true}", "p.json", Primitives.class))
                .isEqualTo(new Primitives(1, 2.0, true));
        Map<String, String> refused = Map.of(
                "{\"n\": \"1\", \"x\": 2, \"b\": true}", "p.json: n must be an integer, got \"1\"",
                "{\"n\": null, \"x\": 2, \"b\": true}", "p.json: n must be an integer, got null",
                "{\"n\": 1, \"x\": 2}", "p.json: b is missing",
                "{\"n\": 1, \"x\": 2, \"b\": 0}", "p.json: b must be true or false, got 0");
        refused.forEach((json, message) -> assertThatThrownBy(() -> READER.parse(json, "p.json", Primitives.class))
                .as(json)
                .isInstanceOf(ConfigException.class)
                .hasMessage(message));
    }

    @Test
    void nestedKeysAreNamedWithTheirPath() {
        assertThatThrownBy(() -> READER.parse("{\"inner\": {\"required\": 1, \"steps\": true}}", "o.json", Outer.class))
                .isInstanceOf(ConfigException.class)
                .hasMessage("o.json: inner.steps must be an integer, got true");
        assertThatThrownBy(() -> READER.parse("{\"inner\": {\"required\": 1, \"steps\": -1}}", "o.json", Outer.class))
                .hasMessage("o.json: inner: steps must be positive, got -1");
        assertThatThrownBy(() -> READER.parse("{\"inner\": 3}", "o.json", Outer.class))
                .hasMessage("o.json: inner must be an object, got 3");
        assertThat(READER.parse("{\"inner\": null}", "o.json", Outer.class).inner())
                .isNull();
    }

    @Test
    void badJsonIsNamedWithoutJacksonsSourceText() {
        assertThat(refusal("{\"required\": 1,}"))
                .startsWith("s.json: not valid JSON: Unexpected character ('}' (code 125))")
                .endsWith("(line 1, column 16)")
                .doesNotContain("Source", "REDACTED");
        assertThat(refusal("[1]")).isEqualTo("s.json: expected a JSON object");
        assertThat(refusal("")).isEqualTo("s.json: expected a JSON object");
        assertThat(refusal("null")).isEqualTo("s.json: expected a JSON object");
    }

    @Test
    void duplicateKeysKeepTheLastValueUnlessRefused() {
        assertThat(parse("{\"required\": 1, \"steps\": 3, \"steps\": 4}").steps())
                .isEqualTo(4);
        assertThatThrownBy(() -> READER.rejectingDuplicateKeys()
                        .parse("{\"required\": 1, \"steps\": 3, \"steps\": 4}", "s.json", Sample.class))
                .isInstanceOf(ConfigException.class)
                .hasMessage("s.json: not valid JSON: Duplicate field 'steps' (line 1, column 36)");
    }

    @Test
    void aBugInTheFactoryIsNotReportedAsABadFile() {
        assertThatThrownBy(() -> parse("{\"required\": 1, \"name\": \"boom\"}"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("a bug, not a bad file");
    }

    @Test
    void readsFilesAndMaps(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("c.json"), "{\"required\": 2, \"sizes\": [5]}");
        assertThat(READER.read(file, Sample.class).sizes()).containsExactly(5);
        Files.write(file, new byte[] {'{', '"', (byte) 0xC3, '"', ':', '1', '}'});
        assertThatThrownBy(() -> READER.read(file, Sample.class))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ": not valid JSON: the file is not UTF-8 text");
        assertThatThrownBy(() -> READER.read(dir.resolve("absent.json"), Sample.class))
                .isInstanceOf(io.github.flux4j.FluxIoException.class)
                .hasCauseInstanceOf(java.nio.file.NoSuchFileException.class);

        // What WeightSource.config() holds: Integer, Long, Double, String, Boolean, List, Map, null.
        Map<String, Object> map = new HashMap<>();
        map.put("required", 3L);
        map.put("sizes", List.of(1, 2L));
        map.put("shift", 0.5);
        map.put("name", null);
        assertThat(READER.bind(map, "m.json", Sample.class))
                .isEqualTo(new Sample(1000, 0.5, false, "default", List.of(1, 2), 7, 3));
        map.put("steps", 1L << 40);
        assertThatThrownBy(() -> READER.bind(map, "m.json", Sample.class))
                .isInstanceOf(ConfigException.class)
                .hasMessage("m.json: steps must be a 32-bit integer, got 1099511627776");
    }

    /**
     * Every key of the real CLIP, T5 and VAE configs set to each hostile value: the config either
     * reads or is refused with a {@link WeightException} that names the file and is free of
     * Jackson's internals (source text, class names).
     */
    @Test
    void hostileValuesGiveCleanMessages(@TempDir Path dir) throws IOException {
        List<String> messages = new ArrayList<>();
        for (String resource : List.of(
                "/reference/text/clip/config.json",
                "/reference/text/t5/config.json",
                "/reference/vae/tiny-vae/config.json")) {
            byte[] seed = Files.readAllBytes(ConfigFuzz.resourceFolder(resource));
            JsonNode json = Mutator.parse(seed);
            Path file = dir.resolve("config.json");
            List<byte[]> mutants = new ArrayList<>(Mutator.everyKeyHostile(json));
            Mutator mutator = new Mutator(0xC0F1L);
            for (int i = 0; i < 300; i++) {
                mutants.add(mutator.json(json, seed, i));
            }
            for (byte[] m : mutants) {
                Files.write(file, m);
                try {
                    if (resource.contains("clip")) {
                        ClipTextConfig.read(file);
                    } else if (resource.contains("t5")) {
                        T5Config.read(file);
                    } else {
                        VaeConfig.read(file);
                    }
                } catch (WeightException e) {
                    messages.add(e.getMessage());
                }
            }
        }
        assertThat(messages)
                .hasSizeGreaterThan(100)
                .allSatisfy(m -> assertThat(m)
                        .startsWith(dir.resolve("config.json") + ": ")
                        .doesNotContain("Source:", "REDACTED", "com.fasterxml", "java.lang", "java.util", "`"));
    }
}
