package io.github.flux4j.tokenizers.internal.sentencepiece;

import io.github.flux4j.tokenizers.internal.engine.Normalizer;
import io.github.flux4j.tokenizers.internal.engine.UnicodeText;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * SentencePiece's precompiled normalization rules ({@code precompiled_charsmap}): a darts-clone
 * double-array trie from UTF-8 byte sequences to offsets into a blob of NUL-terminated
 * replacement strings. The layout is {@code u32 trie size in bytes (little endian), trie units
 * (u32 each), replacement strings}.
 *
 * <p>Two ways of applying the rules exist and both are here: SentencePiece's (the longest rule
 * matching at each position, {@link #longestMatch}) and Hugging Face {@code tokenizers}'
 * {@code Precompiled} normalizer ({@link #tokenizersNormalizer()}), which looks up whole grapheme
 * clusters of under 6 bytes first and takes the shortest rule matching a prefix of the lookup.
 */
public final class PrecompiledCharsMap {
    private final int[] units;
    private final byte[] normalized;
    private final ConcurrentHashMap<Integer, String> strings = new ConcurrentHashMap<>();

    private PrecompiledCharsMap(int[] units, byte[] normalized) {
        this.units = units;
        this.normalized = normalized;
    }

    /**
     * Parses a {@code precompiled_charsmap} blob.
     *
     * @throws IllegalArgumentException if it is truncated or its strings are not UTF-8
     */
    public static PrecompiledCharsMap parse(byte[] blob) {
        if (blob.length <= 4) {
            throw new IllegalArgumentException("precompiled_charsmap of " + blob.length + " bytes is too short");
        }
        long trieSize = (blob[0] & 0xFFL) | (blob[1] & 0xFFL) << 8 | (blob[2] & 0xFFL) << 16 | (blob[3] & 0xFFL) << 24;
        if (trieSize >= blob.length - 4L + 1 || trieSize % 4 != 0 || trieSize == 0) {
            throw new IllegalArgumentException("precompiled_charsmap: trie size " + trieSize
                    + " does not fit a blob of " + blob.length + " bytes");
        }
        int[] units = new int[(int) (trieSize / 4)];
        ByteBuffer.wrap(blob, 4, (int) trieSize)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .asIntBuffer()
                .get(units);
        byte[] normalized = new byte[blob.length - 4 - (int) trieSize];
        System.arraycopy(blob, 4 + (int) trieSize, normalized, 0, normalized.length);
        try {
            StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(normalized));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("precompiled_charsmap: replacement strings are not valid UTF-8");
        }
        return new PrecompiledCharsMap(units, normalized);
    }

    private static boolean hasLeaf(int unit) {
        return ((unit >>> 8) & 1) == 1;
    }

    private static int value(int unit) {
        return unit & 0x7FFFFFFF;
    }

    private static int label(int unit) {
        return unit & 0x800000FF;
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }

    /**
     * darts-clone's commonPrefixSearch over {@code key[from, to)}: the values and lengths of the
     * rules matching a prefix, shortest first. Returns how many were found; fills
     * {@code values}/{@code lengths} up to their size.
     */
    private int search(byte[] key, int from, int to, boolean stopAtNul, int[] values, int[] lengths) {
        int count = 0;
        int nodePos = 0;
        int unit = units[0];
        nodePos ^= offset(unit);
        for (int i = from; i < to; i++) {
            int c = key[i] & 0xFF;
            if (c == 0 && stopAtNul) {
                break;
            }
            nodePos ^= c;
            if (nodePos < 0 || nodePos >= units.length) {
                return count; // a corrupt trie: treat as no further match
            }
            unit = units[nodePos];
            if (label(unit) != c) {
                return count;
            }
            nodePos ^= offset(unit);
            if (nodePos < 0 || nodePos >= units.length) {
                return count;
            }
            if (hasLeaf(unit)) {
                if (count < values.length) {
                    values[count] = value(units[nodePos]);
                    lengths[count] = i + 1 - from;
                }
                count++;
            }
        }
        return count;
    }

    /**
     * SentencePiece's lookup: the longest rule matching at {@code key[from]}, as
     * {@code length << 32 | value}, or -1 if none matches.
     */
    public long longestMatch(byte[] key, int from, int to) {
        long best = -1;
        int nodePos = 0;
        int unit = units[0];
        nodePos ^= offset(unit);
        for (int i = from; i < to; i++) {
            int c = key[i] & 0xFF;
            nodePos ^= c;
            if (nodePos < 0 || nodePos >= units.length) {
                break;
            }
            unit = units[nodePos];
            if (label(unit) != c) {
                break;
            }
            nodePos ^= offset(unit);
            if (nodePos < 0 || nodePos >= units.length) {
                break;
            }
            if (hasLeaf(unit)) {
                best = ((long) (i + 1 - from) << 32) | value(units[nodePos]);
            }
        }
        return best;
    }

    /** The replacement string stored at {@code value} (up to its NUL), as UTF-8 bytes. */
    public byte[] replacementBytes(int value) {
        int end = value;
        while (end < normalized.length && normalized[end] != 0) {
            end++;
        }
        byte[] out = new byte[Math.max(0, end - value)];
        if (out.length > 0) {
            System.arraycopy(normalized, value, out, 0, out.length);
        }
        return out;
    }

    /** The replacement string stored at {@code value}. */
    public String replacement(int value) {
        return strings.computeIfAbsent(value, v -> new String(replacementBytes(v), StandardCharsets.UTF_8));
    }

    /**
     * {@code tokenizers}' {@code Precompiled::transform}: the replacement of the first (shortest)
     * rule matching a prefix of {@code chunk}, or {@code null}. The whole chunk is replaced by it.
     */
    public @Nullable String transform(String chunk) {
        byte[] key = UnicodeText.utf8(chunk);
        int[] values = new int[1];
        int[] lengths = new int[1];
        int n = search(key, 0, key.length, true, values, lengths);
        return n == 0 ? null : replacement(values[0]);
    }

    /** {@code tokenizers}' {@code Precompiled} normalizer over these rules. */
    public Normalizer tokenizersNormalizer() {
        return text -> {
            StringBuilder sb = null;
            int copied = 0;
            int pos = 0;
            for (String g : UnicodeText.graphemes(text)) {
                String whole = UnicodeText.utf8Length(g) < 6 ? transform(g) : null;
                if (whole != null) {
                    if (sb == null) {
                        sb = new StringBuilder(text.length() + 16);
                    }
                    sb.append(text, copied, pos).append(whole);
                    copied = pos + g.length();
                } else {
                    for (int i = 0; i < g.length(); ) {
                        int cp = g.codePointAt(i);
                        int len = Character.charCount(cp);
                        String r = transform(g.substring(i, i + len));
                        if (r != null) {
                            if (sb == null) {
                                sb = new StringBuilder(text.length() + 16);
                            }
                            sb.append(text, copied, pos + i).append(r);
                            copied = pos + i + len;
                        }
                        i += len;
                    }
                }
                pos += g.length();
            }
            if (sb == null) {
                return text;
            }
            return sb.append(text, copied, text.length()).toString();
        };
    }
}
