package io.github.flux4j.tokenizers.internal.sentencepiece;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** A minimal reader of the protobuf wire format (varints, fixed32, length-delimited fields). */
final class ProtoReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final byte[] data;
    private final int base;
    private int pos;
    private final int end;

    ProtoReader(byte[] data, int from, int to) {
        this.data = data;
        this.base = 0;
        this.pos = from;
        this.end = to;
    }

    boolean hasMore() {
        return pos < end;
    }

    int position() {
        return pos - base;
    }

    /** Reads a field tag; returns {@code fieldNumber << 3 | wireType}. */
    int tag() {
        long t = varint();
        if (t <= 0 || t > Integer.MAX_VALUE || (t >>> 3) == 0) {
            throw error(pos, "invalid field tag " + t);
        }
        return (int) t;
    }

    long varint() {
        long result = 0;
        int start = pos;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) {
                throw error(start, "truncated varint");
            }
            byte b = data[pos++];
            result |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return result;
            }
        }
        throw error(start, "varint longer than 10 bytes");
    }

    int fixed32() {
        if (end - pos < 4) {
            throw error(pos, "truncated fixed32");
        }
        int v = (data[pos] & 0xFF)
                | (data[pos + 1] & 0xFF) << 8
                | (data[pos + 2] & 0xFF) << 16
                | (data[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    /** Reads a length prefix and returns {start, end} of the bytes, moving past them. */
    int[] lengthDelimited() {
        int at = pos;
        long len = varint();
        if (len < 0 || len > end - pos) {
            throw error(at, "length " + len + " runs past the end of its message");
        }
        int[] span = {pos, pos + (int) len};
        pos += (int) len;
        return span;
    }

    String string(int[] span) {
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(data, span[0], span[1] - span[0]))
                    .toString();
        } catch (CharacterCodingException e) {
            throw error(span[0], "string is not valid UTF-8");
        }
    }

    byte[] bytes(int[] span) {
        byte[] b = new byte[span[1] - span[0]];
        System.arraycopy(data, span[0], b, 0, b.length);
        return b;
    }

    void skip(int wireType) {
        int at = pos;
        switch (wireType) {
            case VARINT -> varint();
            case FIXED64 -> {
                if (end - pos < 8) {
                    throw error(at, "truncated fixed64");
                }
                pos += 8;
            }
            case LENGTH_DELIMITED -> lengthDelimited();
            case FIXED32 -> fixed32();
            default -> throw error(at, "unsupported wire type " + wireType);
        }
    }

    static IllegalArgumentException error(int offset, String message) {
        return new IllegalArgumentException("at byte " + offset + ": " + message);
    }
}
