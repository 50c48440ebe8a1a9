package io.github.flux4j.tokenizers.internal.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The {@code tokenizers} pre-tokenizers that CLIP and T5 tokenizer files use. */
public final class PreTokenizers {
    private static final Pattern WHITESPACE_WORDS = UnicodeText.compileRegex("\\w+|[^\\w\\s]+");

    private PreTokenizers() {}

    /** What a split keeps of the delimiters it finds ({@code SplitDelimiterBehavior}). */
    public enum Behavior {
        /** Delimiters are dropped. */
        REMOVED,
        /** Each delimiter is a word of its own. */
        ISOLATED,
        /** A delimiter is appended to the word before it. */
        MERGED_WITH_PREVIOUS,
        /** A delimiter is prepended to the word after it. */
        MERGED_WITH_NEXT,
        /** Runs of delimiters, and runs of non-delimiters, are words. */
        CONTIGUOUS;

        /** Parses a {@code tokenizer.json} spelling ({@code "Removed"}, {@code "MergedWithNext"}...). */
        public static Behavior parse(String name) {
            switch (name.toLowerCase(Locale.ROOT)) {
                case "removed":
                    return REMOVED;
                case "isolated":
                    return ISOLATED;
                case "mergedwithprevious":
                    return MERGED_WITH_PREVIOUS;
                case "mergedwithnext":
                    return MERGED_WITH_NEXT;
                case "contiguous":
                    return CONTIGUOUS;
                default:
                    throw new IllegalArgumentException("unknown split behavior \"" + name + "\"");
            }
        }
    }

    /** Where Metaspace adds its replacement character in front of a word. */
    public enum PrependScheme {
        /** In front of every word that does not start with it. */
        ALWAYS,
        /** Only in front of the word at the start of the input. */
        FIRST,
        /** Never. */
        NEVER
    }

    /** Applies {@code steps} in order, each to every word the previous one produced. */
    public static PreTokenizer sequence(List<PreTokenizer> steps) {
        PreTokenizer[] array = steps.toArray(new PreTokenizer[0]);
        return (text, atOrigin, out) -> {
            List<PreTokenizer.Word> current = new ArrayList<>();
            current.add(new PreTokenizer.Word(text, atOrigin));
            for (PreTokenizer step : array) {
                List<PreTokenizer.Word> next = new ArrayList<>(current.size() * 2);
                for (PreTokenizer.Word w : current) {
                    step.split(w.text(), w.atOrigin(), next);
                }
                current = next;
            }
            out.addAll(current);
        };
    }

    /** Splits on White_Space, dropping it ({@code WhitespaceSplit}). */
    public static PreTokenizer whitespaceSplit() {
        return (text, atOrigin, out) -> {
            int n = text.length();
            int i = 0;
            while (i < n) {
                while (i < n && UnicodeText.isWhiteSpace(text.codePointAt(i))) {
                    i += Character.charCount(text.codePointAt(i));
                }
                int start = i;
                while (i < n && !UnicodeText.isWhiteSpace(text.codePointAt(i))) {
                    i += Character.charCount(text.codePointAt(i));
                }
                if (i > start) {
                    out.add(new PreTokenizer.Word(text.substring(start, i), atOrigin && start == 0));
                }
            }
        };
    }

    /** Words of word characters and words of other non-space characters ({@code Whitespace}). */
    public static PreTokenizer whitespace() {
        return regexSplit(WHITESPACE_WORDS, Behavior.REMOVED, true);
    }

    /**
     * {@code Metaspace}: spaces become {@code replacement}, which is also prepended per
     * {@code scheme}; with {@code split}, words are cut in front of each replacement character.
     */
    public static PreTokenizer metaspace(char replacement, PrependScheme scheme, boolean split) {
        String rep = String.valueOf(replacement);
        return (text, atOrigin, out) -> {
            String s = text.replace(" ", rep);
            if (!s.startsWith(rep) && (scheme == PrependScheme.ALWAYS || (scheme == PrependScheme.FIRST && atOrigin))) {
                s = rep + s;
            }
            if (!split) {
                out.add(new PreTokenizer.Word(s, atOrigin));
                return;
            }
            // MergedWithNext on each replacement character amounts to cutting in front of every
            // one of them: "a▁▁b" -> "a", "▁", "▁b".
            int n = s.length();
            int start = 0;
            for (int i = 1; i < n; i++) {
                if (s.charAt(i) == replacement) {
                    out.add(new PreTokenizer.Word(s.substring(start, i), atOrigin && start == 0));
                    start = i;
                }
            }
            if (start < n) {
                out.add(new PreTokenizer.Word(s.substring(start), atOrigin && start == 0));
            }
        };
    }

    /** {@code Split} on a regular expression (Oniguruma syntax, Unicode classes). */
    public static PreTokenizer regexSplit(String regex, Behavior behavior, boolean invert) {
        return regexSplit(UnicodeText.compileRegex(regex), behavior, invert);
    }

    /** {@code Split} on a literal string. */
    public static PreTokenizer stringSplit(String delimiter, Behavior behavior, boolean invert) {
        return regexSplit(Pattern.compile(Pattern.quote(delimiter)), behavior, invert);
    }

    private static PreTokenizer regexSplit(Pattern pattern, Behavior behavior, boolean invert) {
        return (text, atOrigin, out) -> {
            if (text.isEmpty()) {
                return;
            }
            // Alternating (start, end, isDelimiter) spans covering the text, as tokenizers'
            // Pattern::find_matches, then merged per behavior.
            List<int[]> spans = new ArrayList<>();
            Matcher m = pattern.matcher(text);
            int prev = 0;
            while (m.find()) {
                if (prev != m.start()) {
                    spans.add(new int[] {prev, m.start(), invert ? 1 : 0});
                }
                spans.add(new int[] {m.start(), m.end(), invert ? 0 : 1});
                prev = m.end();
            }
            if (prev != text.length()) {
                spans.add(new int[] {prev, text.length(), invert ? 1 : 0});
            }
            List<int[]> kept = merge(spans, behavior);
            for (int[] s : kept) {
                if (s[1] > s[0]) {
                    out.add(new PreTokenizer.Word(text.substring(s[0], s[1]), atOrigin && s[0] == 0));
                }
            }
        };
    }

    /** Applies a behavior to delimiter spans; returns the kept {start, end} spans. */
    static List<int[]> merge(List<int[]> spans, Behavior behavior) {
        List<int[]> acc = new ArrayList<>(spans.size());
        switch (behavior) {
            case REMOVED:
                for (int[] s : spans) {
                    if (s[2] == 0) {
                        acc.add(s);
                    }
                }
                return acc;
            case ISOLATED:
                return spans;
            case CONTIGUOUS: {
                boolean previous = false;
                for (int[] s : spans) {
                    boolean isMatch = s[2] == 1;
                    if (isMatch == previous && !acc.isEmpty()) {
                        acc.get(acc.size() - 1)[1] = s[1];
                    } else {
                        acc.add(new int[] {s[0], s[1]});
                    }
                    previous = isMatch;
                }
                return acc;
            }
            case MERGED_WITH_PREVIOUS: {
                boolean previous = false;
                for (int[] s : spans) {
                    boolean isMatch = s[2] == 1;
                    if (isMatch && !previous && !acc.isEmpty()) {
                        acc.get(acc.size() - 1)[1] = s[1];
                    } else {
                        acc.add(new int[] {s[0], s[1]});
                    }
                    previous = isMatch;
                }
                return acc;
            }
            case MERGED_WITH_NEXT: {
                boolean previous = false;
                for (int i = spans.size() - 1; i >= 0; i--) {
                    int[] s = spans.get(i);
                    boolean isMatch = s[2] == 1;
                    if (isMatch && !previous && !acc.isEmpty()) {
                        acc.get(acc.size() - 1)[0] = s[0];
                    } else {
                        acc.add(new int[] {s[0], s[1]});
                    }
                    previous = isMatch;
                }
                java.util.Collections.reverse(acc);
                return acc;
            }
            default:
                throw new AssertionError(behavior);
        }
    }
}
