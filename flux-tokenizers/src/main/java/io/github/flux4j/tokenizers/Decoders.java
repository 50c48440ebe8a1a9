package io.github.flux4j.tokenizers;

import io.github.flux4j.tokenizers.internal.engine.Decoder;

/** The decoders FLUX's tokenizers use beyond the byte-level one. */
final class Decoders {
    private Decoders() {}

    /**
     * {@code Metaspace}: the replacement character becomes a space, except in the first token,
     * where it is dropped (unless the prepend scheme is "never"), as tokenizers does.
     */
    static Decoder metaspace(char replacement, boolean dropInFirst) {
        return tokens -> {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < tokens.size(); i++) {
                String t = tokens.get(i);
                sb.append(
                        i == 0 && dropInFirst
                                ? t.replace(String.valueOf(replacement), "")
                                : t.replace(replacement, ' '));
            }
            return sb.toString();
        };
    }

    /** CLIP: the end-of-word suffix becomes a space, then the text is stripped (transformers' CLIPTokenizer). */
    static Decoder clip(Decoder byteLevel, String endOfWordSuffix) {
        return tokens -> strip(byteLevel.decode(tokens).replace(endOfWordSuffix, " "));
    }

    /** Python's {@code str.strip()}. */
    static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isPythonSpace(s.charAt(start))) {
            start++;
        }
        while (end > start && isPythonSpace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(start, end);
    }

    private static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
    }
}
