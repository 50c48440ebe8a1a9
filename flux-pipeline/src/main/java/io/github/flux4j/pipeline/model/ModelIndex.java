package io.github.flux4j.pipeline.model;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.core.json.ConfigReader;
import io.github.flux4j.core.json.ConfigReader.NullRefused;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * A pipeline folder's {@code model_index.json}: the pipeline class and, per component, the
 * {@code [library, class]} that loads it. Components listed as {@code [null, null]} (FLUX.1-dev's
 * {@code image_encoder} and {@code feature_extractor}) are absent and not in {@link #components()}.
 *
 * @param pipelineClass    {@code _class_name}, such as {@code FluxPipeline}
 * @param diffusersVersion {@code _diffusers_version}, if present
 * @param components       component name to its loader (unmodifiable; sorted by name when read from a file)
 */
public record ModelIndex(
        String pipelineClass, @Nullable String diffusersVersion, Map<String, LibraryClass> components) {
    /** The file name. */
    public static final String FILE_NAME = "model_index.json";

    /** Reads the file: a key given twice is not valid JSON. */
    private static final ConfigReader CONFIGS = ConfigReader.of(
                    (source, problem, cause) -> new ModelFolderException(source + ": " + problem, cause))
            .rejectingDuplicateKeys();

    /**
     * The loader of one component.
     *
     * @param library   {@code diffusers} or {@code transformers}
     * @param className the class, such as {@code CLIPTextModel}
     */
    public record LibraryClass(String library, String className) {
        /** Checks both are present. */
        public LibraryClass {
            Objects.requireNonNull(library, "library");
            Objects.requireNonNull(className, "className");
        }
    }

    /** Copies the map. */
    public ModelIndex {
        Objects.requireNonNull(pipelineClass, "pipelineClass");
        components = Collections.unmodifiableMap(new LinkedHashMap<>(components));
    }

    /** The loader of {@code component}, if the index lists it. */
    public Optional<LibraryClass> component(String component) {
        return Optional.ofNullable(components.get(component));
    }

    /**
     * Reads a {@code model_index.json}.
     *
     * @throws io.github.flux4j.FluxIoException     if the file cannot be read
     * @throws ModelFolderException naming the file and entry if the content is malformed
     */
    public static ModelIndex read(Path file) {
        return CONFIGS.read(file, ModelIndex.class);
    }

    /**
     * Parses the JSON text of a {@code model_index.json}.
     *
     * @param source names the text in error messages
     * @throws ModelFolderException naming {@code source} and the entry if the content is malformed
     */
    public static ModelIndex parse(String json, String source) {
        return CONFIGS.parse(json, source, ModelIndex.class);
    }

    /**
     * The file's keys, as {@link ConfigReader} binds them: the metadata keys, and every other key
     * in {@code entries}, of which those holding an array are components.
     */
    @JsonCreator
    private static ModelIndex fromKeys(
            @JsonProperty("_class_name") @NullRefused @Nullable String className,
            @JsonProperty("_diffusers_version") @Nullable JsonNode diffusersVersion,
            @JsonAnySetter @Nullable Map<String, JsonNode> entries) {
        Map<String, LibraryClass> components = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : (entries == null ? Map.<String, JsonNode>of() : entries).entrySet()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            // Other metadata (_name_or_path) and non-component settings (force_zeros_for_empty_prompt,
            // requires_safety_checker, ...), which are plain values, not [library, class] pairs.
            if (key.startsWith("_") || !v.isArray()) {
                continue;
            }
            if (v.size() != 2) {
                throw new IllegalArgumentException(key + " must be [library, class], got " + v);
            }
            JsonNode lib = v.get(0);
            JsonNode klass = v.get(1);
            if (lib.isNull() && klass.isNull()) {
                continue; // an optional component that this pipeline does not have
            }
            if (!lib.isTextual() || !klass.isTextual()) {
                throw new IllegalArgumentException(key + " must be [library, class] strings, got " + v);
            }
            components.put(key, new LibraryClass(lib.asText(), klass.asText()));
        }
        return new ModelIndex(
                ConfigReader.required(className, "_class_name"),
                // informative only: a version that is not a string is left out rather than refused
                diffusersVersion != null && diffusersVersion.isTextual() ? diffusersVersion.asText() : null,
                components);
    }
}
