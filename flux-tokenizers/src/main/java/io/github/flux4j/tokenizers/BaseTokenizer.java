package io.github.flux4j.tokenizers;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.tokenizers.internal.engine.AddedToken;
import io.github.flux4j.tokenizers.internal.engine.Decoder;
import io.github.flux4j.tokenizers.internal.engine.Engine;
import io.github.flux4j.tokenizers.internal.engine.IntList;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** What the CLIP and T5 tokenizers share: special tokens around the text, truncation, padding. */
abstract class BaseTokenizer implements PromptTokenizer {
    private final Engine engine;
    private final int[] prefix;
    private final int[] suffix;
    private final int padId;
    private final int eosId;
    private final int modelMaxLength;
    private final Decoder decoder;

    BaseTokenizer(
            Engine engine, int[] prefix, int[] suffix, int padId, int eosId, int modelMaxLength, Decoder decoder) {
        this.engine = engine;
        this.prefix = prefix.clone();
        this.suffix = suffix.clone();
        this.padId = padId;
        this.eosId = eosId;
        this.modelMaxLength = modelMaxLength;
        this.decoder = decoder;
    }

    /** Reading tokenizer files; an {@link IOException} becomes a {@link FluxIoException}. */
    interface FileRead<T> {
        T read() throws IOException;
    }

    /** {@code read}'s result; the system's I/O failures are unchecked, as everywhere in flux4j. */
    static <T> T reading(FileRead<T> read) {
        try {
            return read.read();
        } catch (IOException e) {
            throw FluxIoException.of(e);
        }
    }

    @Override
    public int[] encode(String text) {
        IntList out = new IntList(prefix.length + suffix.length + text.length() / 2 + 4);
        out.addAll(prefix);
        engine.encode(text, out);
        out.addAll(suffix);
        return out.toArray();
    }

    @Override
    public int[] encodeWithoutSpecialTokens(String text) {
        IntList out = new IntList(text.length() / 2 + 4);
        engine.encode(text, out);
        return out.toArray();
    }

    @Override
    public EncodedBatch encode(List<String> texts, int maxLength, Padding padding, boolean truncation) {
        int specials = prefix.length + suffix.length;
        if ((truncation || padding == Padding.MAX_LENGTH) && maxLength < specials) {
            throw new IllegalArgumentException(
                    "maxLength " + maxLength + " cannot hold the " + specials + " special tokens");
        }
        int n = texts.size();
        int[][] content = new int[n][];
        int[][] untruncated = new int[n][];
        int[][] removed = new int[n][];
        String[] removedText = new String[n];
        int longest = 0;
        for (int r = 0; r < n; r++) {
            int[] c = encodeWithoutSpecialTokens(texts.get(r));
            untruncated[r] = wrap(c, c.length);
            int keep = c.length;
            if (truncation && c.length + specials > maxLength) {
                keep = maxLength - specials;
            }
            content[r] = c;
            removed[r] = Arrays.copyOfRange(c, keep, c.length);
            removedText[r] = removed[r].length == 0 ? "" : decode(removed[r], false);
            content[r] = Arrays.copyOf(c, keep);
            longest = Math.max(longest, keep + specials);
        }
        int[][] ids = new int[n][];
        int[][] masks = new int[n][];
        for (int r = 0; r < n; r++) {
            int real = content[r].length + specials;
            int length = switch (padding) {
                case NONE -> real;
                case LONGEST -> longest;
                case MAX_LENGTH -> Math.max(real, maxLength);
            };
            int[] row = wrap(content[r], length);
            int[] mask = new int[length];
            Arrays.fill(mask, 0, real, 1);
            Arrays.fill(row, real, length, padId);
            ids[r] = row;
            masks[r] = mask;
        }
        return new EncodedBatch(ids, masks, untruncated, removed, removedText);
    }

    /** Special tokens around {@code content} in an array of {@code length} (at least the real length). */
    private int[] wrap(int[] content, int length) {
        int[] row = new int[Math.max(length, prefix.length + content.length + suffix.length)];
        System.arraycopy(prefix, 0, row, 0, prefix.length);
        System.arraycopy(content, 0, row, prefix.length, content.length);
        System.arraycopy(suffix, 0, row, prefix.length + content.length, suffix.length);
        return row;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            AddedToken added = engine.added().byId(id);
            if (added != null && added.special() && skipSpecialTokens) {
                continue;
            }
            String t = engine.idToToken(id);
            if (t != null) {
                tokens.add(t);
            }
        }
        return decoder.decode(tokens);
    }

    @Override
    public List<String> tokens(String text) {
        int[] ids = encode(text);
        List<String> out = new ArrayList<>(ids.length);
        for (int id : ids) {
            String t = engine.idToToken(id);
            out.add(t == null ? "<" + id + ">" : t);
        }
        return out;
    }

    /** The words the pre-tokenizer makes of {@code text}, for inspection and tests. */
    List<String> words(String text) {
        return engine.words(text);
    }

    @Override
    public @Nullable String idToToken(int id) {
        return engine.idToToken(id);
    }

    @Override
    public int tokenToId(String token) {
        return engine.tokenToId(token);
    }

    @Override
    public int padTokenId() {
        return padId;
    }

    @Override
    public int eosTokenId() {
        return eosId;
    }

    @Override
    public int modelMaxLength() {
        return modelMaxLength;
    }

    @Override
    public int vocabSize() {
        int max = engine.model().vocabSize() - 1;
        for (AddedToken t : engine.added().tokens()) {
            max = Math.max(max, t.id());
        }
        return max + 1;
    }
}
