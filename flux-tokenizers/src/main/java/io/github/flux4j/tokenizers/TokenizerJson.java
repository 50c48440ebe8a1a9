package io.github.flux4j.tokenizers;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.tokenizers.internal.bpe.BpeModel;
import io.github.flux4j.tokenizers.internal.bpe.ByteLevel;
import io.github.flux4j.tokenizers.internal.engine.AddedToken;
import io.github.flux4j.tokenizers.internal.engine.Decoder;
import io.github.flux4j.tokenizers.internal.engine.Normalizer;
import io.github.flux4j.tokenizers.internal.engine.Normalizers;
import io.github.flux4j.tokenizers.internal.engine.PreTokenizer;
import io.github.flux4j.tokenizers.internal.engine.PreTokenizers;
import io.github.flux4j.tokenizers.internal.engine.TokenModel;
import io.github.flux4j.tokenizers.internal.sentencepiece.PrecompiledCharsMap;
import io.github.flux4j.tokenizers.internal.unigram.UnigramModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The parts of a Hugging Face {@code tokenizer.json} that FLUX's tokenizers use, read with their
 * {@code tokenizers} semantics. Anything this reader does not implement is reported, not ignored.
 */
final class TokenizerJson {
    static final ObjectMapper MAPPER = new ObjectMapper();

    final Path file;
    final List<AddedToken> addedTokens;
    final @Nullable Normalizer normalizer;
    final @Nullable PreTokenizer preTokenizer;
    final String modelType;
    final TokenModel model;
    final int[] prefix;
    final int[] suffix;
    final Decoder decoder;

    private TokenizerJson(Path file, JsonNode root, String expectedModel) throws TokenizerFormatException {
        this.file = file;
        JsonNode modelNode = root.get("model");
        if (modelNode == null || !modelNode.isObject()) {
            throw new TokenizerFormatException(file, "no \"model\" object: not a tokenizers tokenizer.json");
        }
        JsonNode typeNode = modelNode.get("type");
        this.modelType = typeNode != null && typeNode.isTextual() ? typeNode.textValue() : String.valueOf(typeNode);
        if (!modelType.equals(expectedModel)) {
            throw new TokenizerFormatException(
                    file, "unsupported model type \"" + modelType + "\" (expected \"" + expectedModel + "\")");
        }
        try {
            this.addedTokens = addedTokens(root.get("added_tokens"));
            this.normalizer = normalizer(root.get("normalizer"));
            this.preTokenizer = preTokenizer(root.get("pre_tokenizer"));
            this.model = modelType.equals("BPE") ? bpe(modelNode) : unigram(modelNode);
            List<Integer> pre = new ArrayList<>();
            List<Integer> post = new ArrayList<>();
            postProcessor(root.get("post_processor"), pre, post);
            this.prefix = pre.stream().mapToInt(Integer::intValue).toArray();
            this.suffix = post.stream().mapToInt(Integer::intValue).toArray();
            for (int id : post.isEmpty() ? pre : concat(pre, post)) {
                if (model.idToToken(id) == null && addedTokens.stream().noneMatch(t -> t.id() == id)) {
                    throw new IllegalArgumentException("post_processor adds the id " + id
                            + ", which is neither in the vocabulary nor an added token");
                }
            }
            this.decoder = decoder(root.get("decoder"));
        } catch (IllegalArgumentException e) {
            throw new TokenizerFormatException(file, String.valueOf(e.getMessage()), e);
        }
    }

    private static List<Integer> concat(List<Integer> a, List<Integer> b) {
        List<Integer> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** Reads {@code file}, whose model must be of type {@code expectedModel} ("BPE" or "Unigram"). */
    static TokenizerJson read(Path file, String expectedModel) throws IOException {
        JsonNode root = readJson(file);
        if (!root.isObject()) {
            throw new TokenizerFormatException(file, "not a JSON object");
        }
        return new TokenizerJson(file, root, expectedModel);
    }

    static JsonNode readJson(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            return MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new TokenizerFormatException(file, "invalid JSON: " + describe(e), e);
        }
    }

    /** Jackson's {@code [Source: REDACTED ...; line: 1, column: 9]}, which says nothing to a user. */
    private static final Pattern JACKSON_SOURCE = Pattern.compile("\\[Source: [^;\\]]*; line: (\\d+), column: (\\d+)]");

    /**
     * What is wrong and where, without Jackson's source text. (flux-core's {@code JsonErrors} does
     * the same for the model-folder configs; this module depends on Jackson only, not on flux-core.)
     */
    private static String describe(JsonProcessingException e) {
        String what = e.getOriginalMessage() == null
                ? e.getClass().getSimpleName()
                : e.getOriginalMessage().strip();
        what = JACKSON_SOURCE.matcher(what).replaceAll("line $1, column $2");
        var at = e.getLocation();
        return at == null || at.getLineNr() <= 0
                ? what
                : what + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }

    // Typed reads: a value of the wrong type is an IllegalArgumentException naming the field
    // (reported as a TokenizerFormatException naming the file), never a coercion or an NPE.

    private static String text(JsonNode node, String field, String dflt) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("\"" + field + "\" must be a string, got " + v);
        }
        return v.textValue();
    }

    private static boolean bool(JsonNode node, String field, boolean dflt) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("\"" + field + "\" must be true or false, got " + v);
        }
        return v.booleanValue();
    }

    /** A required array field. */
    private static JsonNode array(JsonNode node, String field, String what) {
        JsonNode v = node.get(field);
        if (v == null || !v.isArray()) {
            throw new IllegalArgumentException(what + ": \"" + field + "\" must be an array, got " + v);
        }
        return v;
    }

    /** A token id: a non-negative 32-bit integer. */
    private static int id(@Nullable JsonNode v, String what) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
            throw new IllegalArgumentException(what + " must be a non-negative 32-bit integer id, got " + v);
        }
        return v.intValue();
    }

    /** A pattern ({@code {"String": ...}} or {@code {"Regex": ...}}) part: its text. */
    private static String patternText(JsonNode pattern, String kind) {
        JsonNode v = pattern.get(kind);
        if (!v.isTextual()) {
            throw new IllegalArgumentException("pattern " + kind + " must be a string, got " + v);
        }
        return v.textValue();
    }

    private static String type(JsonNode node, String what) {
        JsonNode t = node.get("type");
        if (t == null || !t.isTextual()) {
            throw new IllegalArgumentException(what + " without a \"type\"");
        }
        return t.asText();
    }

    private static List<AddedToken> addedTokens(@Nullable JsonNode array) {
        List<AddedToken> out = new ArrayList<>();
        if (array == null || array.isNull()) {
            return out;
        }
        if (!array.isArray()) {
            throw new IllegalArgumentException("\"added_tokens\" must be an array, got " + array);
        }
        for (JsonNode t : array) {
            if (!t.isObject()
                    || !t.has("id")
                    || !t.has("content")
                    || !t.get("content").isTextual()
                    || t.get("content").textValue().isEmpty()) {
                throw new IllegalArgumentException(
                        "added token without an \"id\" or a non-empty \"content\" string: " + t);
            }
            out.add(new AddedToken(
                    id(t.get("id"), "added token id"),
                    t.get("content").textValue(),
                    bool(t, "single_word", false),
                    bool(t, "lstrip", false),
                    bool(t, "rstrip", false),
                    bool(t, "normalized", true),
                    bool(t, "special", false)));
        }
        return out;
    }

    private static @Nullable Normalizer normalizer(@Nullable JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        String type = type(n, "normalizer");
        switch (type) {
            case "Sequence": {
                List<Normalizer> steps = new ArrayList<>();
                for (JsonNode s : array(n, "normalizers", "Sequence normalizer")) {
                    Normalizer step = normalizer(s);
                    if (step != null) {
                        steps.add(step);
                    }
                }
                return Normalizers.sequence(steps);
            }
            case "NFC":
                return Normalizers.nfc();
            case "NFD":
                return Normalizers.nfd();
            case "NFKC":
                return Normalizers.nfkc();
            case "NFKD":
                return Normalizers.nfkd();
            case "Lowercase":
                return Normalizers.lowercase();
            case "Strip":
                return Normalizers.strip(bool(n, "strip_left", true), bool(n, "strip_right", true));
            case "Prepend":
                return Normalizers.prepend(text(n, "prepend", ""));
            case "Replace": {
                JsonNode p = n.get("pattern");
                String content = text(n, "content", "");
                if (p != null && p.has("Regex")) {
                    return Normalizers.replaceRegex(patternText(p, "Regex"), content);
                }
                if (p != null && p.has("String")) {
                    return Normalizers.replaceString(patternText(p, "String"), content);
                }
                throw new IllegalArgumentException("Replace normalizer without a String or Regex pattern");
            }
            case "Precompiled": {
                String b64 = text(n, "precompiled_charsmap", "");
                if (b64.isEmpty()) {
                    return null; // as tokenizers: no rules, no change
                }
                byte[] blob;
                try {
                    blob = Base64.getDecoder().decode(b64);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("Precompiled normalizer: precompiled_charsmap is not base64");
                }
                return PrecompiledCharsMap.parse(blob).tokenizersNormalizer();
            }
            default:
                throw new IllegalArgumentException("unsupported normalizer type \"" + type + "\"");
        }
    }

    private static @Nullable PreTokenizer preTokenizer(@Nullable JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        String type = type(n, "pre_tokenizer");
        switch (type) {
            case "Sequence": {
                List<PreTokenizer> steps = new ArrayList<>();
                for (JsonNode s : array(n, "pretokenizers", "Sequence pre_tokenizer")) {
                    PreTokenizer step = preTokenizer(s);
                    if (step != null) {
                        steps.add(step);
                    }
                }
                return PreTokenizers.sequence(steps);
            }
            case "WhitespaceSplit":
                return PreTokenizers.whitespaceSplit();
            case "Whitespace":
                return PreTokenizers.whitespace();
            case "Metaspace":
                return PreTokenizers.metaspace(replacement(n), prependScheme(n), bool(n, "split", true));
            case "ByteLevel":
                return ByteLevel.preTokenizer(bool(n, "add_prefix_space", true), bool(n, "use_regex", true));
            case "Split": {
                JsonNode p = n.get("pattern");
                PreTokenizers.Behavior behavior = PreTokenizers.Behavior.parse(text(n, "behavior", ""));
                boolean invert = bool(n, "invert", false);
                if (p != null && p.has("Regex")) {
                    return PreTokenizers.regexSplit(patternText(p, "Regex"), behavior, invert);
                }
                if (p != null && p.has("String")) {
                    return PreTokenizers.stringSplit(patternText(p, "String"), behavior, invert);
                }
                throw new IllegalArgumentException("Split pre-tokenizer without a String or Regex pattern");
            }
            default:
                throw new IllegalArgumentException("unsupported pre_tokenizer type \"" + type + "\"");
        }
    }

    private static char replacement(JsonNode n) {
        String r = text(n, "replacement", "\u2581");
        if (r.length() != 1) {
            throw new IllegalArgumentException("Metaspace replacement \"" + r + "\" is not one character");
        }
        return r.charAt(0);
    }

    /** tokenizers: add_prefix_space=false forces "never"; otherwise prepend_scheme, default "always". */
    private static PreTokenizers.PrependScheme prependScheme(JsonNode n) {
        if (!bool(n, "add_prefix_space", true)) {
            return PreTokenizers.PrependScheme.NEVER;
        }
        switch (text(n, "prepend_scheme", "always")) {
            case "always":
                return PreTokenizers.PrependScheme.ALWAYS;
            case "first":
                return PreTokenizers.PrependScheme.FIRST;
            case "never":
                return PreTokenizers.PrependScheme.NEVER;
            default:
                throw new IllegalArgumentException(
                        "unknown Metaspace prepend_scheme \"" + text(n, "prepend_scheme", "") + "\"");
        }
    }

    private static BpeModel bpe(JsonNode m) {
        JsonNode vocabNode = m.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) {
            throw new IllegalArgumentException("BPE model without a \"vocab\" object");
        }
        if (bool(m, "byte_fallback", false)) {
            throw new IllegalArgumentException("BPE byte_fallback is not supported");
        }
        JsonNode dropout = m.get("dropout");
        if (dropout != null && !dropout.isNull() && (!dropout.isNumber() || dropout.asDouble() != 0.0)) {
            throw new IllegalArgumentException("BPE dropout is not supported");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
            JsonNode id = e.getValue();
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0) {
                throw new IllegalArgumentException(
                        "BPE vocab: token \"" + e.getKey() + "\" has id " + id + ", not a non-negative 32-bit integer");
            }
            vocab.put(e.getKey(), id.intValue());
        }
        List<String[]> merges = new ArrayList<>();
        JsonNode mergesNode = m.get("merges");
        if (mergesNode != null && !mergesNode.isNull()) {
            if (!mergesNode.isArray()) {
                throw new IllegalArgumentException("BPE \"merges\" must be an array, got " + mergesNode);
            }
            int i = 0;
            for (JsonNode merge : mergesNode) {
                i++;
                String[] pair;
                if (merge.isTextual()) {
                    pair = merge.asText().split(" ", -1);
                } else if (merge.isArray()
                        && merge.size() == 2
                        && merge.get(0).isTextual()
                        && merge.get(1).isTextual()) {
                    pair = new String[] {merge.get(0).textValue(), merge.get(1).textValue()};
                } else {
                    pair = new String[0];
                }
                if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
                    throw new IllegalArgumentException("merge " + i + " is not a pair of tokens: " + merge);
                }
                merges.add(pair);
            }
        }
        String unk = text(m, "unk_token", "");
        int unkId = unk.isEmpty() ? -1 : vocab.getOrDefault(unk, -1);
        return new BpeModel(
                vocab,
                merges,
                text(m, "continuing_subword_prefix", ""),
                text(m, "end_of_word_suffix", ""),
                unkId,
                bool(m, "fuse_unk", false),
                bool(m, "ignore_merges", false));
    }

    private static UnigramModel unigram(JsonNode m) {
        JsonNode vocabNode = m.get("vocab");
        if (vocabNode == null || !vocabNode.isArray()) {
            throw new IllegalArgumentException("Unigram model without a \"vocab\" array");
        }
        if (bool(m, "byte_fallback", false)) {
            throw new IllegalArgumentException("Unigram byte_fallback is not supported");
        }
        int n = vocabNode.size();
        List<String> pieces = new ArrayList<>(n);
        double[] scores = new double[n];
        for (int i = 0; i < n; i++) {
            JsonNode e = vocabNode.get(i);
            if (!e.isArray()
                    || e.size() != 2
                    || !e.get(0).isTextual()
                    || !e.get(1).isNumber()) {
                throw new IllegalArgumentException("Unigram vocab entry " + i + " is not [piece, score]: " + e);
            }
            pieces.add(e.get(0).asText());
            scores[i] = e.get(1).asDouble();
        }
        JsonNode unk = m.get("unk_id");
        if (unk == null || unk.isNull()) {
            throw new IllegalArgumentException("Unigram model without unk_id");
        }
        int unkId = id(unk, "Unigram unk_id");
        boolean[] all = new boolean[n];
        java.util.Arrays.fill(all, true);
        return new UnigramModel(
                pieces, scores, all, null, unkId, UnigramModel.minScore(scores), 0.0, UnigramModel.Flavor.TOKENIZERS);
    }

    private static void postProcessor(@Nullable JsonNode n, List<Integer> pre, List<Integer> post) {
        if (n == null || n.isNull()) {
            return;
        }
        String type = type(n, "post_processor");
        switch (type) {
            case "RobertaProcessing":
            case "BertProcessing":
                pre.add(specialId(n, "cls", type));
                post.add(specialId(n, "sep", type));
                return;
            case "ByteLevel":
                return; // offsets only
            case "Sequence":
                for (JsonNode p : array(n, "processors", "Sequence post_processor")) {
                    postProcessor(p, pre, post);
                }
                return;
            case "TemplateProcessing": {
                JsonNode specials = n.get("special_tokens");
                boolean seenSequence = false;
                for (JsonNode piece : array(n, "single", "TemplateProcessing")) {
                    if (piece.has("Sequence")) {
                        seenSequence = true;
                    } else if (piece.has("SpecialToken")) {
                        JsonNode token = piece.get("SpecialToken");
                        JsonNode idNode = token.get("id");
                        if (idNode == null || !idNode.isTextual()) {
                            throw new IllegalArgumentException(
                                    "TemplateProcessing: SpecialToken without a string \"id\": " + piece);
                        }
                        String id = idNode.textValue();
                        JsonNode special = specials == null ? null : specials.get(id);
                        if (special == null || !special.has("ids")) {
                            throw new IllegalArgumentException(
                                    "TemplateProcessing: special token \"" + id + "\" has no ids");
                        }
                        for (JsonNode i : array(special, "ids", "TemplateProcessing special token \"" + id + "\"")) {
                            (seenSequence ? post : pre)
                                    .add(id(i, "TemplateProcessing special token \"" + id + "\" id"));
                        }
                    }
                }
                return;
            }
            default:
                throw new IllegalArgumentException("unsupported post_processor type \"" + type + "\"");
        }
    }

    /** {@code "cls": ["<s>", 0]} of a Roberta/Bert post-processor: the id. */
    private static int specialId(JsonNode n, String field, String type) {
        JsonNode v = n.get(field);
        if (v == null || !v.isArray() || v.size() != 2) {
            throw new IllegalArgumentException(type + ": \"" + field + "\" must be [token, id], got " + v);
        }
        return id(v.get(1), type + " " + field + " id");
    }

    private static Decoder decoder(@Nullable JsonNode n) {
        if (n == null || n.isNull()) {
            return tokens -> String.join(" ", tokens);
        }
        String type = type(n, "decoder");
        switch (type) {
            case "ByteLevel":
                return ByteLevel.decoder();
            case "Metaspace":
                return Decoders.metaspace(replacement(n), prependScheme(n) != PreTokenizers.PrependScheme.NEVER);
            default:
                // Decoding only serves messages; an unknown decoder must not make the file unusable.
                return tokens -> String.join("", tokens);
        }
    }
}
