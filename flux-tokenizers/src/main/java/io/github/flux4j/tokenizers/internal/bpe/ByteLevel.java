package io.github.flux4j.tokenizers.internal.bpe;

import io.github.flux4j.tokenizers.internal.engine.Decoder;
import io.github.flux4j.tokenizers.internal.engine.PreTokenizer;
import io.github.flux4j.tokenizers.internal.engine.UnicodeText;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's byte-level mapping: every byte is shown as a printable character so that BPE works on
 * text with no unknown symbols. Printable Latin-1 bytes map to themselves, the others to
 * U+0100 onwards.
 */
public final class ByteLevel {
    /** GPT-2's word pattern, which the {@code ByteLevel} pre-tokenizer applies with {@code use_regex}. */
    public static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];
    private static final Pattern GPT2 = UnicodeText.compileRegex(GPT2_PATTERN);

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {}

    /** The character that stands for byte {@code b} (0..255). */
    public static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte a character stands for, or -1 if it is not in the table. */
    public static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** {@code text}'s UTF-8 bytes, each shown as its character. */
    public static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(out);
    }

    /**
     * The text whose byte-level form is {@code symbols}, invalid UTF-8 becoming U+FFFD. A token
     * with a character outside the table contributes its own UTF-8 bytes instead, as
     * {@code tokenizers}' ByteLevel decoder does.
     */
    public static String decode(List<String> tokens) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (String t : tokens) {
            boolean mapped = true;
            for (int i = 0; i < t.length(); i++) {
                if (byteOf(t.charAt(i)) < 0) {
                    mapped = false;
                    break;
                }
            }
            if (mapped) {
                for (int i = 0; i < t.length(); i++) {
                    bytes.write(byteOf(t.charAt(i)));
                }
            } else {
                byte[] u = t.getBytes(StandardCharsets.UTF_8);
                bytes.write(u, 0, u.length);
            }
        }
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE)
                    .decode(ByteBuffer.wrap(bytes.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new AssertionError(e); // REPLACE never throws
        }
    }

    /**
     * The {@code ByteLevel} pre-tokenizer: optionally a leading space, optionally GPT-2's word
     * split, then the byte-to-character mapping of each word.
     */
    public static PreTokenizer preTokenizer(boolean addPrefixSpace, boolean useRegex) {
        return (text, atOrigin, out) -> {
            String s = addPrefixSpace && !text.startsWith(" ") ? " " + text : text;
            if (!useRegex) {
                out.add(new PreTokenizer.Word(encode(s), atOrigin));
                return;
            }
            Matcher m = GPT2.matcher(s);
            int prev = 0;
            while (m.find()) {
                if (m.start() > prev) {
                    out.add(new PreTokenizer.Word(encode(s.substring(prev, m.start())), atOrigin && prev == 0));
                }
                if (m.end() > m.start()) {
                    out.add(new PreTokenizer.Word(encode(m.group()), atOrigin && m.start() == 0));
                }
                prev = m.end();
            }
            if (prev < s.length()) {
                out.add(new PreTokenizer.Word(encode(s.substring(prev)), atOrigin && prev == 0));
            }
        };
    }

    /** The {@code ByteLevel} decoder: concatenates the tokens and maps characters back to bytes. */
    public static Decoder decoder() {
        return ByteLevel::decode;
    }
}
