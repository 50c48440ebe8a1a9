package io.github.flux4j.tokenizers.internal.sentencepiece;

import io.github.flux4j.tokenizers.internal.engine.Normalizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * SentencePiece's {@code Normalizer::Normalize}: the precompiled rules applied longest-match
 * first at each position, leading/trailing/repeated whitespace dropped
 * ({@code remove_extra_whitespaces}), a space put in front ({@code add_dummy_prefix}) and spaces
 * shown as U+2581 ({@code escape_whitespaces}). User-defined symbols pass through unnormalized.
 * Works on UTF-8 bytes like the C++ code; invalid UTF-8 cannot occur in a Java string.
 */
public final class SentencePieceNormalizer implements Normalizer {
    private static final byte[] SPACE_SYMBOL = "\u2581".getBytes(StandardCharsets.UTF_8);

    private final @Nullable PrecompiledCharsMap charsMap;
    private final boolean addDummyPrefix;
    private final boolean removeExtraWhitespaces;
    private final boolean escapeWhitespaces;
    private final boolean treatWhitespaceAsSuffix;
    private final byte[][] userDefined;

    /**
     * @param spec the model's normalizer spec
     * @param treatWhitespaceAsSuffix the trainer's {@code treat_whitespace_as_suffix}
     * @param userDefinedSymbols the model's user-defined pieces
     */
    public SentencePieceNormalizer(
            SentencePieceModel.NormalizerSpec spec, boolean treatWhitespaceAsSuffix, List<String> userDefinedSymbols) {
        this.charsMap =
                spec.precompiledCharsmap().length == 0 ? null : PrecompiledCharsMap.parse(spec.precompiledCharsmap());
        this.addDummyPrefix = spec.addDummyPrefix();
        this.removeExtraWhitespaces = spec.removeExtraWhitespaces();
        this.escapeWhitespaces = spec.escapeWhitespaces();
        this.treatWhitespaceAsSuffix = treatWhitespaceAsSuffix;
        List<byte[]> ud = new ArrayList<>();
        for (String s : userDefinedSymbols) {
            ud.add(s.getBytes(StandardCharsets.UTF_8));
        }
        ud.sort(Comparator.comparingInt((byte[] b) -> b.length).reversed());
        this.userDefined = ud.toArray(new byte[0][]);
    }

    /** One step: the normalized bytes of the prefix at {@code pos} and how many input bytes it used. */
    private byte[] prefix(byte[] in, int pos, int[] consumed) {
        for (byte[] u : userDefined) {
            if (u.length <= in.length - pos && java.util.Arrays.equals(in, pos, pos + u.length, u, 0, u.length)) {
                consumed[0] = u.length;
                return u;
            }
        }
        if (charsMap != null) {
            long m = charsMap.longestMatch(in, pos, in.length);
            if (m >= 0) {
                consumed[0] = (int) (m >>> 32);
                return charsMap.replacementBytes((int) m);
            }
        }
        int len = utf8CharLength(in, pos);
        consumed[0] = len;
        return java.util.Arrays.copyOfRange(in, pos, pos + len);
    }

    private static int utf8CharLength(byte[] in, int pos) {
        int b = in[pos] & 0xFF;
        int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        return Math.min(len, in.length - pos);
    }

    private static boolean isSpace(byte[] b) {
        return b.length == 1 && b[0] == ' ';
    }

    @Override
    public String normalize(String text) {
        byte[] in = text.getBytes(StandardCharsets.UTF_8);
        int pos = 0;
        int[] consumed = new int[1];
        if (removeExtraWhitespaces) {
            while (pos < in.length) {
                byte[] p = prefix(in, pos, consumed);
                if (!isSpace(p)) {
                    break;
                }
                pos += consumed[0];
            }
        }
        if (pos >= in.length) {
            return "";
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length * 3);
        if (!treatWhitespaceAsSuffix && addDummyPrefix) {
            addSpace(out);
        }
        boolean prevSpace = removeExtraWhitespaces;
        while (pos < in.length) {
            byte[] sp = prefix(in, pos, consumed);
            int start = 0;
            // Drop leading spaces of this piece if the previous one ended with a space.
            while (prevSpace && start < sp.length && sp[start] == ' ') {
                start++;
            }
            if (start < sp.length) {
                for (int i = start; i < sp.length; i++) {
                    if (escapeWhitespaces && sp[i] == ' ') {
                        out.write(SPACE_SYMBOL, 0, SPACE_SYMBOL.length);
                    } else {
                        out.write(sp[i]);
                    }
                }
                prevSpace = sp[sp.length - 1] == ' ';
            }
            pos += consumed[0];
            if (!removeExtraWhitespaces) {
                prevSpace = false;
            }
        }
        byte[] result = out.toByteArray();
        int end = result.length;
        if (removeExtraWhitespaces) {
            byte[] space = escapeWhitespaces ? SPACE_SYMBOL : new byte[] {' '};
            while (end >= space.length
                    && java.util.Arrays.equals(result, end - space.length, end, space, 0, space.length)) {
                end -= space.length;
            }
        }
        String s = new String(result, 0, end, StandardCharsets.UTF_8);
        if (treatWhitespaceAsSuffix && addDummyPrefix) {
            s = s + (escapeWhitespaces ? "\u2581" : " ");
        }
        return s;
    }

    private void addSpace(ByteArrayOutputStream out) {
        if (escapeWhitespaces) {
            out.write(SPACE_SYMBOL, 0, SPACE_SYMBOL.length);
        } else {
            out.write(' ');
        }
    }
}
