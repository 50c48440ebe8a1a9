package io.github.flux4j.gguf;

import java.util.Optional;

/** The metadata value types of the GGUF format ({@code gguf_type} in ggml), with their ids. */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, 8),
    ARRAY(9, 12),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values();

    private final int id;
    private final int minBytes;

    GgufValueType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    /** The id stored in the file. */
    public int id() {
        return id;
    }

    /**
     * The fewest bytes one value of this type takes in a file (its size for fixed-size types; the
     * length prefix for strings; element type plus count for arrays). Readers use it to reject
     * counts that cannot fit in the bytes left.
     */
    public int minBytes() {
        return minBytes;
    }

    /** The type with this id, if the format defines one. */
    public static Optional<GgufValueType> fromId(int id) {
        return id >= 0 && id < BY_ID.length ? Optional.of(BY_ID[id]) : Optional.empty();
    }
}
