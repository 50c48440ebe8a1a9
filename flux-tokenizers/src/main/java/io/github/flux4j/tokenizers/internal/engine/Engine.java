package io.github.flux4j.tokenizers.internal.engine;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The encoding flow of a {@code tokenizers} tokenizer without its post-processing: added tokens,
 * normalizer, pre-tokenizer, model. Immutable and thread-safe.
 */
public final class Engine {
    private final AddedVocabulary added;
    private final @Nullable Normalizer normalizer;
    private final @Nullable PreTokenizer preTokenizer;
    private final TokenModel model;

    /**
     * @param added the added tokens
     * @param normalizer applied to each text piece between added tokens; {@code null} for none
     * @param preTokenizer splits normalized text into words; {@code null}: the piece is one word
     * @param model tokenizes each word
     */
    public Engine(
            AddedVocabulary added,
            @Nullable Normalizer normalizer,
            @Nullable PreTokenizer preTokenizer,
            TokenModel model) {
        this.added = added;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
    }

    /** The added tokens. */
    public AddedVocabulary added() {
        return added;
    }

    /** The model. */
    public TokenModel model() {
        return model;
    }

    /** Appends the ids of {@code text}, without any special tokens around them, to {@code out}. */
    public void encode(String text, IntList out) {
        List<PreTokenizer.Word> words = new ArrayList<>();
        for (AddedVocabulary.Segment seg : added.split(text, normalizer)) {
            if (seg.isToken()) {
                out.add(seg.id());
                continue;
            }
            if (preTokenizer == null) {
                model.tokenize(seg.text(), out);
                continue;
            }
            words.clear();
            preTokenizer.split(seg.text(), seg.atOrigin(), words);
            for (PreTokenizer.Word w : words) {
                if (!w.text().isEmpty()) {
                    model.tokenize(w.text(), out);
                }
            }
        }
    }

    /** The words the pre-tokenizer makes of {@code text} (added tokens as they are); for tests. */
    public List<String> words(String text) {
        List<String> out = new ArrayList<>();
        List<PreTokenizer.Word> words = new ArrayList<>();
        for (AddedVocabulary.Segment seg : added.split(text, normalizer)) {
            if (seg.isToken() || preTokenizer == null) {
                out.add(seg.text());
                continue;
            }
            words.clear();
            preTokenizer.split(seg.text(), seg.atOrigin(), words);
            words.forEach(w -> out.add(w.text()));
        }
        return out;
    }

    /** The token (added or of the model) with this id, or {@code null}. */
    public @Nullable String idToToken(int id) {
        AddedToken t = added.byId(id);
        return t != null ? t.content() : model.idToToken(id);
    }

    /** The id of this token (added or of the model), or -1. */
    public int tokenToId(String token) {
        int id = added.idOf(token);
        return id >= 0 ? id : model.tokenToId(token);
    }
}
