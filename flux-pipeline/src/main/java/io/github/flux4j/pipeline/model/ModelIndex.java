package io.github.flux4j.pipeline.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.json.JsonErrors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A pipeline folder's {@code model_index.json}: the pipeline class and, per component, the
 * {@code [library, class]} that loads it. Components listed as {@code [null, null]} (FLUX.1-dev's
 * {@code image_encoder} and {@code feature_extractor}) are absent and not in {@link #components()}.
 *
 * @param pipelineClass    {@code _class_name}, such as {@code FluxPipeline}
 * @param diffusersVersion {@code _diffusers_version}, if present
 * @param components       component name to its loader, in file order (unmodifiable)
 */
public record ModelIndex(
        String pipelineClass, @Nullable String diffusersVersion, Map<String, LibraryClass> components) {
    /** The file name. */
    public static final String FILE_NAME = "model_index.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

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
     * @throws FluxIoException       if the file cannot be read
     * @throws ModelFolderException naming the file and entry if the content is malformed
     */
    public static ModelIndex read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new ModelFolderException(file + ": not valid JSON: the file is not UTF-8 text", e);
        } catch (IOException e) {
            throw FluxIoException.of(file, e);
        }
        return parse(text, file.toString());
    }

    /**
     * Parses the JSON text of a {@code model_index.json}.
     *
     * @param source names the text in error messages
     * @throws ModelFolderException naming {@code source} and the entry if the content is malformed
     */
    public static ModelIndex parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ModelFolderException(source + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFolderException(source + ": expected a JSON object");
        }
        JsonNode cls = root.get("_class_name");
        if (cls == null || !cls.isTextual()) {
            throw new ModelFolderException(source + ": _class_name must be a string (the pipeline class), got " + cls);
        }
        JsonNode version = root.get("_diffusers_version");
        Map<String, LibraryClass> components = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String key = e.getKey();
            if (key.startsWith("_")) {
                continue; // _class_name, _diffusers_version, _name_or_path: metadata
            }
            JsonNode v = e.getValue();
            // Non-component settings (force_zeros_for_empty_prompt, requires_safety_checker, ...)
            // are plain values, not [library, class] pairs.
            if (!v.isArray()) {
                continue;
            }
            if (v.size() != 2) {
                throw new ModelFolderException(source + ": " + key + " must be [library, class], got " + v);
            }
            JsonNode lib = v.get(0);
            JsonNode klass = v.get(1);
            if (lib.isNull() && klass.isNull()) {
                continue; // an optional component that this pipeline does not have
            }
            if (!lib.isTextual() || !klass.isTextual()) {
                throw new ModelFolderException(source + ": " + key + " must be [library, class] strings, got " + v);
            }
            components.put(key, new LibraryClass(lib.asText(), klass.asText()));
        }
        return new ModelIndex(
                cls.asText(), version != null && version.isTextual() ? version.asText() : null, components);
    }
}
