package io.github.flux4j.tokenizers;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.flux4j.tokenizers.internal.bpe.BpeModel;
import io.github.flux4j.tokenizers.internal.bpe.ByteLevel;
import io.github.flux4j.tokenizers.internal.engine.AddedToken;
import io.github.flux4j.tokenizers.internal.engine.AddedVocabulary;
import io.github.flux4j.tokenizers.internal.engine.Engine;
import io.github.flux4j.tokenizers.internal.engine.Normalizer;
import io.github.flux4j.tokenizers.internal.engine.Normalizers;
import io.github.flux4j.tokenizers.internal.engine.PreTokenizer;
import io.github.flux4j.tokenizers.internal.engine.PreTokenizers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * CLIP's tokenizer (FLUX's {@code tokenizer/}, from openai/clip-vit-large-patch14): byte-level
 * BPE with a {@code </w>} end-of-word suffix, text normalized by NFC, whitespace runs to one
 * space and lower-casing, words split by CLIP's pattern, {@code <|startoftext|>} and
 * {@code <|endoftext|>} around the ids, padding with {@code <|endoftext|>}.
 *
 * <p>By default ({@link Flavor#FAST}) ids equal transformers' {@code CLIPTokenizerFast} (and
 * {@code CLIPTokenizer} since transformers 5, which is the same class). {@link Flavor#SLOW}
 * follows transformers 4's pure-Python {@code CLIPTokenizer} without ftfy, which cleaned text
 * differently (BERT's basic tokenizer: control characters dropped, CJK ideographs split one by
 * one, Python's lower-casing); the two differ only on such text.
 *
 * <p>Immutable and thread-safe.
 */
public final class ClipTokenizer extends BaseTokenizer {
    /** CLIP's word pattern ({@code pre_tokenizer} Split, matches kept). */
    public static final String PATTERN =
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
    /** CLIP's context length. */
    public static final int DEFAULT_MAX_LENGTH = 77;

    private static final String BOS = "<|startoftext|>";
    private static final String EOS = "<|endoftext|>";
    private static final String SUFFIX = "</w>";
    /** The Python tokenizer reads at most 49152 - 256 - 2 merges. */
    private static final int SLOW_MAX_MERGES = 49152 - 256 - 2;

    /** Which transformers CLIP tokenizer to follow. */
    public enum Flavor {
        /** {@code CLIPTokenizerFast}, and {@code CLIPTokenizer} from transformers 5 on. */
        FAST,
        /**
         * transformers 4's pure-Python {@code CLIPTokenizer} without {@code ftfy} (what diffusers
         * loaded for FLUX.1 with transformers 4). Needs {@code vocab.json} and {@code merges.txt}.
         */
        SLOW
    }

    private ClipTokenizer(Engine engine, int bos, int eos, int pad, int maxLength) {
        super(
                engine,
                new int[] {bos},
                new int[] {eos},
                pad,
                eos,
                maxLength,
                Decoders.clip(ByteLevel.decoder(), SUFFIX));
    }

    /**
     * Loads a tokenizer folder as transformers does: {@code tokenizer.json} if present, otherwise
     * {@code vocab.json} and {@code merges.txt}; special tokens and {@code model_max_length} from
     * {@code tokenizer_config.json} and {@code special_tokens_map.json} when present.
     *
     * @throws io.github.flux4j.FluxIoException if neither {@code tokenizer.json} nor {@code vocab.json} +
     *     {@code merges.txt} are there (its cause a {@link NoSuchFileException}), or a file cannot
     *     be read
     * @throws TokenizerFormatException if a file is malformed
     */
    public static ClipTokenizer fromDirectory(Path dir) {
        return fromDirectory(dir, Flavor.FAST);
    }

    /**
     * Loads a tokenizer folder in the given flavour: {@link Flavor#FAST} as
     * {@link #fromDirectory(Path)}, {@link Flavor#SLOW} from {@code vocab.json} and
     * {@code merges.txt} (a {@code tokenizer.json} is ignored, as the Python tokenizer did).
     */
    public static ClipTokenizer fromDirectory(Path dir, Flavor flavor) {
        return reading(() -> {
            TokenizerConfig config = TokenizerConfig.read(dir);
            Path json = dir.resolve("tokenizer.json");
            if (flavor == Flavor.FAST && Files.isRegularFile(json)) {
                return fromTokenizerJson(json, config);
            }
            return fromVocabAndMerges(dir.resolve("vocab.json"), dir.resolve("merges.txt"), config, flavor);
        });
    }

    /**
     * Loads {@code vocab.json} and {@code merges.txt} with CLIP's default special tokens
     * ({@code <|startoftext|>}, {@code <|endoftext|>} as end, unknown and padding token) and a
     * maximum length of 77.
     */
    public static ClipTokenizer fromFiles(Path vocabJson, Path mergesTxt) {
        return fromFiles(vocabJson, mergesTxt, Flavor.FAST);
    }

    /** As {@link #fromFiles(Path, Path)}, in the given flavour. */
    public static ClipTokenizer fromFiles(Path vocabJson, Path mergesTxt, Flavor flavor) {
        return reading(() -> fromVocabAndMerges(vocabJson, mergesTxt, new TokenizerConfig(), flavor));
    }

    /** Loads a {@code tokenizer.json} (BPE model) with the default padding token and maximum length. */
    public static ClipTokenizer fromTokenizerJson(Path tokenizerJson) {
        return reading(() -> fromTokenizerJson(tokenizerJson, new TokenizerConfig()));
    }

    private static ClipTokenizer fromTokenizerJson(Path file, TokenizerConfig config) throws IOException {
        TokenizerJson tj = TokenizerJson.read(file, "BPE");
        Engine engine = new Engine(
                new AddedVocabulary(tj.addedTokens, tj.normalizer), tj.normalizer, tj.preTokenizer, tj.model);
        if (tj.prefix.length != 1 || tj.suffix.length != 1) {
            throw new TokenizerFormatException(
                    file,
                    "post_processor adds " + tj.prefix.length + " token(s) before and " + tj.suffix.length
                            + " after the text; CLIP needs exactly one of each");
        }
        int pad = engine.tokenToId(config.content("pad_token", EOS));
        if (pad < 0) {
            throw new TokenizerFormatException(
                    file, "padding token \"" + config.content("pad_token", EOS) + "\" is not in the vocabulary");
        }
        return new ClipTokenizer(engine, tj.prefix[0], tj.suffix[0], pad, maxLength(config));
    }

    private static int maxLength(TokenizerConfig config) {
        return config.modelMaxLength > 0 ? config.modelMaxLength : DEFAULT_MAX_LENGTH;
    }

    private static ClipTokenizer fromVocabAndMerges(
            Path vocabFile, Path mergesFile, TokenizerConfig config, Flavor flavor) throws IOException {
        if (!Files.isRegularFile(vocabFile)) {
            throw new NoSuchFileException(
                    vocabFile.toString(), null, "CLIP tokenizer: no vocab.json (nor tokenizer.json)");
        }
        if (!Files.isRegularFile(mergesFile)) {
            throw new NoSuchFileException(mergesFile.toString(), null, "CLIP tokenizer: no merges.txt");
        }
        Map<String, Integer> vocab = readVocab(vocabFile);
        List<String[]> merges = readMerges(mergesFile);
        if (flavor == Flavor.SLOW && merges.size() > SLOW_MAX_MERGES) {
            merges = merges.subList(0, SLOW_MAX_MERGES); // the Python tokenizer reads no more
        }

        // Special tokens in transformers' order; a later role with the same content wins.
        Map<String, TokenizerConfig.Special> byContent = new LinkedHashMap<>();
        Map<String, TokenizerConfig.Special> roles = new LinkedHashMap<>();
        roles.put("bos_token", new TokenizerConfig.Special(BOS, false, false, false, false));
        roles.put("eos_token", new TokenizerConfig.Special(EOS, false, false, false, false));
        roles.put("unk_token", new TokenizerConfig.Special(EOS, false, false, false, false));
        roles.put("pad_token", new TokenizerConfig.Special(EOS, false, false, false, false));
        roles.putAll(config.specials);
        for (String role :
                new String[] {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"
                }) {
            TokenizerConfig.Special s = roles.get(role);
            if (s != null) {
                byContent.put(s.content(), s);
            }
        }
        List<AddedToken> added = new ArrayList<>();
        for (TokenizerConfig.Special s : byContent.values()) {
            Integer id = vocab.get(s.content());
            if (id == null) {
                throw new TokenizerFormatException(
                        vocabFile, "special token \"" + s.content() + "\" is not in the vocabulary");
            }
            // The Python tokenizer matches its special tokens in the raw text only.
            boolean normalized = flavor == Flavor.FAST && s.normalized();
            added.add(new AddedToken(id, s.content(), s.singleWord(), s.lstrip(), s.rstrip(), normalized, true));
        }
        int unk = id(vocab, vocabFile, roles.get("unk_token"));
        BpeModel model;
        try {
            model = new BpeModel(vocab, merges, "", SUFFIX, unk, false, false);
        } catch (IllegalArgumentException e) {
            throw new TokenizerFormatException(mergesFile, String.valueOf(e.getMessage()), e);
        }
        Engine engine;
        if (flavor == Flavor.FAST) {
            Normalizer normalizer = Normalizers.sequence(
                    List.of(Normalizers.nfc(), Normalizers.replaceRegex("\\s+", " "), Normalizers.lowercase()));
            PreTokenizer pre = PreTokenizers.sequence(List.of(
                    PreTokenizers.regexSplit(PATTERN, PreTokenizers.Behavior.REMOVED, true),
                    ByteLevel.preTokenizer(false, true)));
            engine = new Engine(new AddedVocabulary(added, normalizer), normalizer, pre, model);
        } else {
            Map<String, Integer> specialWords = new HashMap<>();
            for (String w : new String[] {BOS, EOS}) {
                if (vocab.containsKey(w)) {
                    specialWords.put(w, vocab.get(w));
                }
            }
            engine = new Engine(
                    new AddedVocabulary(added, null),
                    ClipSlowText.basicClean(),
                    ClipSlowText.findAll(),
                    ClipSlowText.withSpecialWords(model, specialWords));
        }
        int bos = id(vocab, vocabFile, roles.get("bos_token"));
        int eos = id(vocab, vocabFile, roles.get("eos_token"));
        int pad = id(vocab, vocabFile, roles.get("pad_token"));
        return new ClipTokenizer(engine, bos, eos, pad, maxLength(config));
    }

    private static int id(Map<String, Integer> vocab, Path file, TokenizerConfig.@Nullable Special s)
            throws TokenizerFormatException {
        Integer id = s == null ? null : vocab.get(s.content());
        if (id == null) {
            throw new TokenizerFormatException(
                    file, "special token \"" + (s == null ? "?" : s.content()) + "\" is not in the vocabulary");
        }
        return id;
    }

    private static Map<String, Integer> readVocab(Path file) throws IOException {
        JsonNode root = TokenizerJson.readJson(file);
        if (!root.isObject() || root.size() == 0) {
            throw new TokenizerFormatException(file, "expected a non-empty JSON object of token -> id");
        }
        Map<String, Integer> vocab = new HashMap<>(root.size() * 2);
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw new TokenizerFormatException(
                        file, "token \"" + e.getKey() + "\" has id " + e.getValue() + ", not a non-negative integer");
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        return vocab;
    }

    /** merges.txt: an optional "#version" line, then one "left right" pair per line. */
    private static List<String[]> readMerges(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<String[]> merges = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (i == 0 && line.startsWith("#version")) {
                continue;
            }
            if (line.isEmpty()) {
                continue;
            }
            String[] pair = line.split(" ", -1);
            if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
                throw new TokenizerFormatException(
                        file, "line " + (i + 1) + " is not a pair of tokens separated by one space: \"" + line + "\"");
            }
            merges.add(pair);
        }
        return merges;
    }
}
