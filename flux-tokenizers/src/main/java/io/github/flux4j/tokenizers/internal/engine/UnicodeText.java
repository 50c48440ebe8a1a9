package io.github.flux4j.tokenizers.internal.engine;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Unicode helpers with the semantics of Rust's standard library and the {@code tokenizers} crate,
 * where they differ from Java's.
 */
public final class UnicodeText {
    private static final Pattern GRAPHEME = Pattern.compile("\\X");

    private UnicodeText() {}

    /**
     * Whether {@code cp} has the Unicode White_Space property (Rust's {@code char::is_whitespace},
     * Oniguruma's {@code \s}). Unlike {@link Character#isWhitespace} this includes no-break spaces
     * and excludes the information separators U+001C..U+001F.
     */
    public static boolean isWhiteSpace(int cp) {
        if (cp <= 0x20) {
            return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
        }
        if (cp < 0x85) {
            return false;
        }
        return cp == 0x85
                || cp == 0xA0
                || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x2028
                || cp == 0x2029
                || cp == 0x202F
                || cp == 0x205F
                || cp == 0x3000;
    }

    /**
     * Lower-cases code point by code point with full (one-to-many) mappings but no context, as
     * Rust's {@code char::to_lowercase} does: a final capital sigma becomes {@code σ}, not
     * {@code ς} as {@link String#toLowerCase} would make it.
     */
    public static String lowercase(String text) {
        int n = text.length();
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            if (c >= 0x80 || (c >= 'A' && c <= 'Z')) {
                break;
            }
            i++;
        }
        if (i == n) {
            return text;
        }
        StringBuilder sb = new StringBuilder(n + 8);
        sb.append(text, 0, i);
        while (i < n) {
            int cp = text.codePointAt(i);
            int len = Character.charCount(cp);
            if (cp < 0x80) {
                sb.append((char) (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
            } else if (cp == 0x03A3) {
                sb.append('\u03C3');
            } else {
                // One code point alone: Java applies only the unconditional SpecialCasing rules.
                sb.append(text.substring(i, i + len).toLowerCase(Locale.ROOT));
            }
            i += len;
        }
        return sb.toString();
    }

    /** The extended grapheme clusters of {@code text} (Unicode UAX #29, as {@code \X}). */
    public static List<String> graphemes(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = GRAPHEME.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    /** The number of bytes of {@code text} in UTF-8 (lone surrogates count as one byte, like '?'). */
    public static int utf8Length(String text) {
        int bytes = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c)
                    && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                bytes += 1;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    /** {@code text} in UTF-8. */
    public static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Compiles a pattern written for Oniguruma or Rust's {@code regex} (as found in
     * {@code tokenizer.json}) with Unicode semantics for {@code \s}, {@code \w} and {@code \d}.
     */
    public static Pattern compileRegex(String pattern) {
        return Pattern.compile(pattern, Pattern.UNICODE_CHARACTER_CLASS);
    }
}
