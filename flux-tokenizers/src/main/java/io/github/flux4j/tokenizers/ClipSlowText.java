package io.github.flux4j.tokenizers;

import io.github.flux4j.tokenizers.internal.bpe.ByteLevel;
import io.github.flux4j.tokenizers.internal.engine.IntList;
import io.github.flux4j.tokenizers.internal.engine.Normalizer;
import io.github.flux4j.tokenizers.internal.engine.PreTokenizer;
import io.github.flux4j.tokenizers.internal.engine.TokenModel;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The text handling of transformers 4's pure-Python {@code CLIPTokenizer} when {@code ftfy} is
 * not installed ({@link ClipTokenizer.Flavor#SLOW}): BERT's basic tokenizer cleans the text
 * (control characters dropped, whitespace to spaces, spaces around CJK ideographs, NFC, Python's
 * lower-casing per word), then CLIP's pattern is searched case-insensitively and every match is
 * one BPE word; a match that is a special token's text becomes that token.
 */
final class ClipSlowText {
    private ClipSlowText() {}

    /** BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize, joined by spaces. */
    static Normalizer basicClean() {
        return text -> {
            StringBuilder clean = new StringBuilder(text.length() + 8);
            for (int i = 0; i < text.length(); ) {
                int cp = text.codePointAt(i);
                i += Character.charCount(cp);
                if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                    continue;
                }
                if (isWhitespace(cp)) {
                    clean.append(' ');
                } else if (isCjk(cp)) {
                    clean.append(' ').appendCodePoint(cp).append(' ');
                } else {
                    clean.appendCodePoint(cp);
                }
            }
            String nfc = java.text.Normalizer.normalize(clean, java.text.Normalizer.Form.NFC);
            StringBuilder out = new StringBuilder(nfc.length());
            int n = nfc.length();
            for (int i = 0; i < n; ) {
                while (i < n && isPythonSpace(nfc.codePointAt(i))) {
                    i += Character.charCount(nfc.codePointAt(i));
                }
                int start = i;
                while (i < n && !isPythonSpace(nfc.codePointAt(i))) {
                    i += Character.charCount(nfc.codePointAt(i));
                }
                if (i > start) {
                    if (out.length() > 0) {
                        out.append(' ');
                    }
                    // Python's str.lower() on the word: full mappings and the final-sigma rule.
                    out.append(nfc.substring(start, i).toLowerCase(Locale.ROOT));
                }
            }
            return out.toString();
        };
    }

    /** transformers' _is_control: categories C* except tab, newline and carriage return. */
    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int t = Character.getType(cp);
        return t == Character.CONTROL
                || t == Character.FORMAT
                || t == Character.SURROGATE
                || t == Character.PRIVATE_USE
                || t == Character.UNASSIGNED;
    }

    /** transformers' _is_whitespace: space, tab, newline, carriage return, or category Zs. */
    private static boolean isWhitespace(int cp) {
        return cp == ' '
                || cp == '\t'
                || cp == '\n'
                || cp == '\r'
                || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    /** Python's str.isspace(), which str.split() splits on. */
    private static boolean isPythonSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D)
                || (cp >= 0x1C && cp <= 0x20)
                || cp == 0x85
                || cp == 0xA0
                || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x2028
                || cp == 0x2029
                || cp == 0x202F
                || cp == 0x205F
                || cp == 0x3000;
    }

    /** BERT's "Chinese character" ranges (CJK Unified Ideographs and extensions, compatibility ideographs). */
    private static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    /** re.findall(CLIP's pattern, IGNORECASE): each match, byte-level mapped, is a word. */
    static PreTokenizer findAll() {
        Pattern pattern = Pattern.compile(
                ClipTokenizer.PATTERN,
                Pattern.UNICODE_CHARACTER_CLASS | Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
        return (text, atOrigin, out) -> {
            Matcher m = pattern.matcher(text);
            while (m.find()) {
                if (m.end() > m.start()) {
                    out.add(new PreTokenizer.Word(ByteLevel.encode(m.group()), atOrigin && m.start() == 0));
                }
            }
        };
    }

    /** BPE, except that a word spelling a special token is that token (the Python BPE cache's seed). */
    static TokenModel withSpecialWords(TokenModel bpe, Map<String, Integer> specials) {
        return new TokenModel() {
            @Override
            public void tokenize(String word, IntList out) {
                Integer id = specials.get(word);
                if (id != null) {
                    out.add(id);
                } else {
                    bpe.tokenize(word, out);
                }
            }

            @Override
            public @Nullable String idToToken(int id) {
                return bpe.idToToken(id);
            }

            @Override
            public int tokenToId(String token) {
                return bpe.tokenToId(token);
            }

            @Override
            public int vocabSize() {
                return bpe.vocabSize();
            }
        };
    }
}
