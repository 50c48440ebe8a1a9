package io.github.flux4j.tokenizers.internal.engine;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The {@code tokenizers} normalizers that CLIP and T5 tokenizer files use. */
public final class Normalizers {
    private Normalizers() {}

    /** Unicode NFC. */
    public static Normalizer nfc() {
        return s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFC);
    }

    /** Unicode NFD. */
    public static Normalizer nfd() {
        return s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFD);
    }

    /** Unicode NFKC. */
    public static Normalizer nfkc() {
        return s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFKC);
    }

    /** Unicode NFKD. */
    public static Normalizer nfkd() {
        return s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFKD);
    }

    /** Lower-casing code point by code point ({@link UnicodeText#lowercase}). */
    public static Normalizer lowercase() {
        return UnicodeText::lowercase;
    }

    /** Replaces every match of a regular expression with literal {@code content}. */
    public static Normalizer replaceRegex(String regex, String content) {
        Pattern pattern = UnicodeText.compileRegex(regex);
        String replacement = Matcher.quoteReplacement(content);
        return s -> pattern.matcher(s).replaceAll(replacement);
    }

    /** Replaces every occurrence of literal {@code pattern} with {@code content}. */
    public static Normalizer replaceString(String pattern, String content) {
        if (pattern.isEmpty()) {
            throw new IllegalArgumentException("Replace normalizer with an empty pattern");
        }
        return s -> s.replace(pattern, content);
    }

    /** Removes White_Space code points at the start and/or end. */
    public static Normalizer strip(boolean left, boolean right) {
        return s -> {
            int start = 0;
            int end = s.length();
            if (left) {
                while (start < end && UnicodeText.isWhiteSpace(s.codePointAt(start))) {
                    start += Character.charCount(s.codePointAt(start));
                }
            }
            if (right) {
                while (end > start && UnicodeText.isWhiteSpace(s.codePointBefore(end))) {
                    end -= Character.charCount(s.codePointBefore(end));
                }
            }
            return s.substring(start, end);
        };
    }

    /** Prepends {@code prefix} to non-empty text. */
    public static Normalizer prepend(String prefix) {
        return s -> s.isEmpty() ? s : prefix + s;
    }

    /** Applies {@code steps} in order. */
    public static Normalizer sequence(List<Normalizer> steps) {
        Normalizer[] array = steps.toArray(new Normalizer[0]);
        return s -> {
            String out = s;
            for (Normalizer n : array) {
                out = n.normalize(out);
            }
            return out;
        };
    }
}
