package io.github.flux4j.tokenizers;

import io.github.flux4j.tokenizers.internal.engine.AddedToken;
import io.github.flux4j.tokenizers.internal.engine.AddedVocabulary;
import io.github.flux4j.tokenizers.internal.engine.Engine;
import io.github.flux4j.tokenizers.internal.sentencepiece.SentencePieceModel;
import io.github.flux4j.tokenizers.internal.sentencepiece.SentencePieceNormalizer;
import io.github.flux4j.tokenizers.internal.unigram.UnigramModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * T5's tokenizer (FLUX's {@code tokenizer_2/}, from google/t5-v1_1-xxl): SentencePiece Unigram
 * with NFKC-like precompiled normalization, {@code ▁} for spaces, {@code </s>} appended, padding
 * with {@code <pad>} (id 0), unknown characters as {@code <unk>}, and 100 sentinel tokens
 * {@code <extra_id_N>}.
 *
 * <p>Two sources, two reference behaviours:
 * <ul>
 *   <li>{@code tokenizer.json} ({@link #fromTokenizerJson}): ids equal {@code tokenizers} reading
 *       the file, i.e. transformers' {@code T5TokenizerFast}, which diffusers' FluxPipeline uses;
 *   <li>{@code spiece.model} ({@link #fromSentencePiece}): ids equal the SentencePiece library,
 *       i.e. transformers 4's slow {@code T5Tokenizer} with {@code legacy=True} (FLUX's config).
 * </ul>
 * The two differ only in rare corners (e.g. a full-width letter followed by a combining mark).
 *
 * <p>Immutable and thread-safe.
 */
public final class T5Tokenizer extends BaseTokenizer {
    /** FLUX.1-dev's {@code max_sequence_length} (FLUX.1-schnell uses 256). */
    public static final int DEFAULT_MAX_LENGTH = 512;
    /** The number of sentinel tokens T5 adds after the SentencePiece vocabulary. */
    public static final int DEFAULT_EXTRA_IDS = 100;

    private T5Tokenizer(Engine engine, int[] suffix, int pad, int eos, int maxLength) {
        super(engine, new int[0], suffix, pad, eos, maxLength, Decoders.metaspace('\u2581', true));
    }

    /**
     * Loads a tokenizer folder: {@code tokenizer.json} if present (as transformers'
     * {@code T5TokenizerFast}), otherwise {@code spiece.model}; {@code model_max_length} and the
     * padding token from {@code tokenizer_config.json} / {@code special_tokens_map.json} when
     * present.
     *
     * @throws io.github.flux4j.FluxIoException if neither file is there (its cause a {@link NoSuchFileException}),
     *     or a file cannot be read
     * @throws TokenizerFormatException if a file is malformed
     */
    public static T5Tokenizer fromDirectory(Path dir) {
        return reading(() -> {
            TokenizerConfig config = TokenizerConfig.read(dir);
            Path json = dir.resolve("tokenizer.json");
            if (Files.isRegularFile(json)) {
                return fromTokenizerJson(json, config);
            }
            Path model = dir.resolve("spiece.model");
            if (!Files.isRegularFile(model)) {
                throw new NoSuchFileException(
                        model.toString(), null, "T5 tokenizer: no spiece.model (nor tokenizer.json)");
            }
            return fromSentencePiece(model, DEFAULT_EXTRA_IDS, config);
        });
    }

    /** Loads a {@code tokenizer.json} (Unigram model) as {@code tokenizers} reads it. */
    public static T5Tokenizer fromTokenizerJson(Path tokenizerJson) {
        return reading(() -> fromTokenizerJson(tokenizerJson, new TokenizerConfig()));
    }

    /** Loads an {@code spiece.model} with T5's 100 sentinel tokens, as SentencePiece tokenizes. */
    public static T5Tokenizer fromSentencePiece(Path spieceModel) {
        return fromSentencePiece(spieceModel, DEFAULT_EXTRA_IDS);
    }

    /** Loads an {@code spiece.model} with {@code extraIds} sentinel tokens. */
    public static T5Tokenizer fromSentencePiece(Path spieceModel, int extraIds) {
        return reading(() -> fromSentencePiece(spieceModel, extraIds, new TokenizerConfig()));
    }

    private static int maxLength(TokenizerConfig config) {
        return config.modelMaxLength > 0 ? config.modelMaxLength : DEFAULT_MAX_LENGTH;
    }

    private static T5Tokenizer fromTokenizerJson(Path file, TokenizerConfig config) throws IOException {
        TokenizerJson tj = TokenizerJson.read(file, "Unigram");
        Engine engine = new Engine(
                new AddedVocabulary(tj.addedTokens, tj.normalizer), tj.normalizer, tj.preTokenizer, tj.model);
        if (tj.prefix.length != 0 || tj.suffix.length != 1) {
            throw new TokenizerFormatException(
                    file,
                    "post_processor adds " + tj.prefix.length + " token(s) before and " + tj.suffix.length
                            + " after the text; T5 needs none before and </s> after");
        }
        int pad = engine.tokenToId(config.content("pad_token", "<pad>"));
        if (pad < 0) {
            throw new TokenizerFormatException(
                    file, "padding token \"" + config.content("pad_token", "<pad>") + "\" is not in the vocabulary");
        }
        return new T5Tokenizer(engine, tj.suffix, pad, tj.suffix[0], maxLength(config));
    }

    private static T5Tokenizer fromSentencePiece(Path file, int extraIds, TokenizerConfig config) throws IOException {
        if (extraIds < 0) {
            throw new IllegalArgumentException("extraIds " + extraIds + " < 0");
        }
        SentencePieceModel sp;
        try {
            sp = SentencePieceModel.parse(Files.readAllBytes(file));
        } catch (IllegalArgumentException e) {
            throw new TokenizerFormatException(file, "not a valid SentencePiece model: " + e.getMessage(), e);
        }
        if (sp.modelType() != SentencePieceModel.UNIGRAM) {
            throw new TokenizerFormatException(
                    file, "SentencePiece model type " + sp.modelType() + " is not Unigram (1)");
        }
        if (sp.byteFallback()) {
            throw new TokenizerFormatException(file, "SentencePiece byte_fallback is not supported (T5 has none)");
        }
        List<SentencePieceModel.Piece> pieces = sp.pieces();
        int n = pieces.size();
        List<String> texts = new ArrayList<>(n);
        double[] scores = new double[n];
        boolean[] inTrie = new boolean[n];
        boolean[] userDefined = new boolean[n];
        List<String> userSymbols = new ArrayList<>();
        float min = Float.MAX_VALUE;
        float max = Float.MIN_NORMAL; // C++ starts from FLT_MIN, the smallest positive float
        int unkId = -1;
        List<AddedToken> added = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            SentencePieceModel.Piece p = pieces.get(i);
            texts.add(p.piece());
            scores[i] = p.score();
            switch (p.type()) {
                case NORMAL -> {
                    inTrie[i] = true;
                    min = Math.min(min, p.score());
                    max = Math.max(max, p.score());
                }
                case USER_DEFINED -> {
                    inTrie[i] = true;
                    userDefined[i] = true;
                    userSymbols.add(p.piece());
                }
                case UNKNOWN -> {
                    unkId = i;
                    added.add(AddedToken.special(i, p.piece()));
                }
                case CONTROL -> added.add(AddedToken.special(i, p.piece()));
                case UNUSED, BYTE -> {}
            }
        }
        if (unkId < 0) {
            throw new TokenizerFormatException(file, "SentencePiece model has no unknown piece");
        }
        // transformers: <extra_id_i> has id vocab_size + extra_ids - 1 - i.
        for (int i = 0; i < extraIds; i++) {
            added.add(AddedToken.special(n + extraIds - 1 - i, "<extra_id_" + i + ">"));
        }
        UnigramModel model = new UnigramModel(
                texts, scores, inTrie, userDefined, unkId, min, max, UnigramModel.Flavor.SENTENCEPIECE);
        SentencePieceNormalizer normalizer;
        try {
            normalizer = new SentencePieceNormalizer(sp.normalizer(), sp.treatWhitespaceAsSuffix(), userSymbols);
        } catch (IllegalArgumentException e) {
            throw new TokenizerFormatException(file, String.valueOf(e.getMessage()), e);
        }
        // Special tokens are cut out of the raw text; the pieces between them are normalized and
        // segmented whole by SentencePiece (transformers 4's T5Tokenizer, legacy=True).
        Engine engine = new Engine(new AddedVocabulary(added, null), normalizer, null, model);
        String eosPiece = config.content("eos_token", "</s>");
        int eos = sp.eosId() >= 0 && eosPiece.equals("</s>") ? sp.eosId() : engine.tokenToId(eosPiece);
        int pad = sp.padId() >= 0 && config.content("pad_token", "<pad>").equals("<pad>")
                ? sp.padId()
                : engine.tokenToId(config.content("pad_token", "<pad>"));
        if (eos < 0 || pad < 0) {
            throw new TokenizerFormatException(
                    file, "SentencePiece model has no " + (eos < 0 ? "end-of-sequence" : "padding") + " piece");
        }
        return new T5Tokenizer(engine, new int[] {eos}, pad, eos, maxLength(config));
    }
}
