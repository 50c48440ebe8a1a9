package io.github.flux4j.tokenizers;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The special tokens and {@code model_max_length} of a transformers tokenizer folder, from
 * {@code tokenizer_config.json} overlaid with {@code special_tokens_map.json} (both optional).
 * A token is given as a string (then {@code normalized=false}) or as an object with
 * {@code content}, {@code normalized}, {@code lstrip}, {@code rstrip}, {@code single_word}.
 */
final class TokenizerConfig {
    /** One special token's spelling and matching flags. */
    record Special(String content, boolean normalized, boolean lstrip, boolean rstrip, boolean singleWord) {}

    /** Role ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", ...) -> token, in file order. */
    final Map<String, Special> specials = new LinkedHashMap<>();
    /** {@code model_max_length}, or -1 if absent or unbounded. */
    int modelMaxLength = -1;

    static TokenizerConfig read(@Nullable Path dir) throws IOException {
        TokenizerConfig c = new TokenizerConfig();
        if (dir == null) {
            return c;
        }
        Path config = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(config)) {
            JsonNode root = TokenizerJson.readJson(config);
            c.collect(config, root);
            JsonNode max = root.get("model_max_length");
            if (max != null && max.isNumber() && max.asDouble() > 0 && max.asDouble() <= Integer.MAX_VALUE) {
                c.modelMaxLength = (int) max.asDouble();
            }
        }
        Path map = dir.resolve("special_tokens_map.json");
        if (Files.isRegularFile(map)) {
            c.collect(map, TokenizerJson.readJson(map));
        }
        return c;
    }

    private void collect(Path file, JsonNode root) throws TokenizerFormatException {
        if (!root.isObject()) {
            throw new TokenizerFormatException(file, "not a JSON object");
        }
        for (String role :
                new String[] {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"
                }) {
            JsonNode t = root.get(role);
            if (t == null || t.isNull()) {
                continue;
            }
            if (t.isTextual()) {
                specials.put(role, new Special(t.asText(), false, false, false, false));
            } else if (t.isObject() && t.has("content")) {
                specials.put(
                        role,
                        new Special(
                                t.get("content").asText(),
                                flag(t, "normalized", true),
                                flag(t, "lstrip", false),
                                flag(t, "rstrip", false),
                                flag(t, "single_word", false)));
            } else {
                throw new TokenizerFormatException(file, "\"" + role + "\" is neither a string nor a token object");
            }
        }
    }

    private static boolean flag(JsonNode t, String name, boolean dflt) {
        JsonNode v = t.get(name);
        return v == null || v.isNull() ? dflt : v.asBoolean();
    }

    /** The content of a role's token, or {@code dflt}. */
    String content(String role, String dflt) {
        Special s = specials.get(role);
        return s == null ? dflt : s.content();
    }
}
