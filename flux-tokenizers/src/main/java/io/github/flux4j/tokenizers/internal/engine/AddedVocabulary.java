package io.github.flux4j.tokenizers.internal.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Cuts added tokens out of a text as {@code tokenizers}' {@code AddedVocabulary} does: first the
 * tokens matched in the raw text ({@code normalized=false}), then, after each remaining piece is
 * normalized, the tokens matched in normalized text. Matching is leftmost-longest.
 */
public final class AddedVocabulary {
    private static final Pattern WORD_AT_END = UnicodeText.compileRegex("\\w$");
    private static final Pattern WORD_AT_START = UnicodeText.compileRegex("^\\w");

    private final List<AddedToken> tokens;
    private final Map<Integer, AddedToken> byId;
    private final Map<Character, Candidate[]> raw;
    private final Map<Character, Candidate[]> normalized;

    private record Candidate(String pattern, AddedToken token) {}

    /** A piece of the input: an added token ({@code id >= 0}) or normalized text ({@code id < 0}). */
    public record Segment(int id, String text, boolean atOrigin) {
        /** Whether this piece is an added token. */
        public boolean isToken() {
            return id >= 0;
        }
    }

    /**
     * @param tokens the added tokens
     * @param normalizer the tokenizer's normalizer, applied to the content of {@code normalized}
     *     tokens to get the text they match; {@code null} for none
     */
    public AddedVocabulary(List<AddedToken> tokens, @Nullable Normalizer normalizer) {
        this.tokens = List.copyOf(tokens);
        Map<Integer, AddedToken> ids = new LinkedHashMap<>();
        List<Candidate> rawList = new ArrayList<>();
        List<Candidate> normList = new ArrayList<>();
        for (AddedToken t : tokens) {
            ids.put(t.id(), t);
            if (t.normalized()) {
                String p = normalizer == null ? t.content() : normalizer.normalize(t.content());
                if (!p.isEmpty()) {
                    normList.add(new Candidate(p, t));
                }
            } else {
                rawList.add(new Candidate(t.content(), t));
            }
        }
        this.byId = Collections.unmodifiableMap(ids);
        this.raw = index(rawList);
        this.normalized = index(normList);
    }

    private static Map<Character, Candidate[]> index(List<Candidate> list) {
        Map<Character, List<Candidate>> m = new HashMap<>();
        for (Candidate c : list) {
            m.computeIfAbsent(c.pattern().charAt(0), k -> new ArrayList<>()).add(c);
        }
        Map<Character, Candidate[]> out = new HashMap<>();
        // Longest first, so that the first hit at a position is the longest one.
        m.forEach((k, v) -> {
            v.sort(Comparator.comparingInt((Candidate c) -> c.pattern().length())
                    .reversed());
            out.put(k, v.toArray(new Candidate[0]));
        });
        return out;
    }

    /** The added tokens, in the order given. */
    public List<AddedToken> tokens() {
        return tokens;
    }

    /** The added token with this id, or {@code null}. */
    public @Nullable AddedToken byId(int id) {
        return byId.get(id);
    }

    /** The id of the added token with exactly this content, or -1. */
    public int idOf(String content) {
        for (AddedToken t : tokens) {
            if (t.content().equals(content)) {
                return t.id();
            }
        }
        return -1;
    }

    /** Splits {@code text} into added tokens and normalized text pieces. */
    public List<Segment> split(String text, @Nullable Normalizer normalizer) {
        List<Segment> out = new ArrayList<>();
        List<Segment> first = new ArrayList<>();
        find(text, true, raw, first);
        for (Segment s : first) {
            if (s.isToken()) {
                out.add(s);
            } else {
                String n = normalizer == null ? s.text() : normalizer.normalize(s.text());
                find(n, s.atOrigin(), normalized, out);
            }
        }
        return out;
    }

    private static void find(String s, boolean atOrigin, Map<Character, Candidate[]> index, List<Segment> out) {
        if (s.isEmpty()) {
            return;
        }
        if (index.isEmpty()) {
            out.add(new Segment(-1, s, atOrigin));
            return;
        }
        int n = s.length();
        int startOffset = 0;
        int pos = 0;
        while (pos < n) {
            Candidate hit = null;
            int at = pos;
            for (; at < n; at++) {
                Candidate[] cands = index.get(s.charAt(at));
                if (cands != null) {
                    for (Candidate c : cands) {
                        if (s.startsWith(c.pattern(), at)) {
                            hit = c;
                            break;
                        }
                    }
                    if (hit != null) {
                        break;
                    }
                }
            }
            if (hit == null) {
                break;
            }
            int start = at;
            int stop = at + hit.pattern().length();
            pos = stop;
            AddedToken t = hit.token();
            if (t.singleWord()) {
                boolean startSpace = start == 0
                        || !WORD_AT_END.matcher(s.substring(0, start)).find();
                boolean stopSpace =
                        stop == n || !WORD_AT_START.matcher(s.substring(stop)).find();
                if (!startSpace || !stopSpace) {
                    continue; // the match is dropped; searching resumes after it, as tokenizers does
                }
            }
            if (t.lstrip()) {
                int newStart = start;
                while (newStart > 0 && UnicodeText.isWhiteSpace(s.codePointBefore(newStart))) {
                    newStart -= Character.charCount(s.codePointBefore(newStart));
                }
                start = Math.max(newStart, startOffset);
            }
            if (t.rstrip()) {
                while (stop < n && UnicodeText.isWhiteSpace(s.codePointAt(stop))) {
                    stop += Character.charCount(s.codePointAt(stop));
                }
            }
            if (startOffset < start) {
                out.add(new Segment(-1, s.substring(startOffset, start), atOrigin && startOffset == 0));
            }
            out.add(new Segment(t.id(), s.substring(start, stop), atOrigin && start == 0));
            startOffset = stop;
            pos = Math.max(pos, stop);
        }
        if (startOffset < n) {
            out.add(new Segment(-1, s.substring(startOffset), atOrigin && startOffset == 0));
        }
    }
}
