package io.github.flux4j.gguf;

import java.util.Optional;

/**
 * The GGML tensor types: id as stored in a GGUF tensor info, elements per block and bytes per
 * block, as in ggml's {@code ggml.h} / gguf-py's {@code GGML_QUANT_SIZES}.
 *
 * <p>Ids 4, 5 (the removed Q4_2/Q4_3) and 31..33, 36..38 (the removed interleaved layouts) are
 * gaps: a file using them is rejected as corrupt.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 2 + 16),
    Q4_1(3, 32, 2 + 2 + 16),
    Q5_0(6, 32, 2 + 4 + 16),
    Q5_1(7, 32, 2 + 2 + 4 + 16),
    Q8_0(8, 32, 2 + 32),
    Q8_1(9, 32, 4 + 4 + 32),
    Q2_K(10, 256, 2 + 2 + 256 / 16 + 256 / 4),
    Q3_K(11, 256, 2 + 256 / 4 + 256 / 8 + 12),
    Q4_K(12, 256, 2 + 2 + 256 / 2 + 12),
    Q5_K(13, 256, 2 + 2 + 256 / 2 + 256 / 8 + 12),
    Q6_K(14, 256, 2 + 256 / 2 + 256 / 4 + 256 / 16),
    Q8_K(15, 256, 4 + 256 + 256 / 8),
    IQ2_XXS(16, 256, 2 + 256 / 4),
    IQ2_XS(17, 256, 2 + 256 / 4 + 256 / 32),
    IQ3_XXS(18, 256, 2 + 256 / 4 + 256 / 8),
    IQ1_S(19, 256, 2 + 256 / 8 + 256 / 16),
    IQ4_NL(20, 32, 2 + 16),
    IQ3_S(21, 256, 2 + 256 / 4 + 256 / 8 + 256 / 32 + 4),
    IQ2_S(22, 256, 2 + 256 / 4 + 256 / 16),
    IQ4_XS(23, 256, 2 + 2 + 256 / 2 + 256 / 64),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 256 / 8 + 256 / 16 + 256 / 32),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 2 + 4 * 13),
    TQ2_0(35, 256, 2 + 64),
    MXFP4(39, 32, 1 + 16),
    NVFP4(40, 64, 4 + 32),
    Q1_0(41, 128, 2 + 16);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockSize;
    private final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** The numeric id stored in GGUF tensor infos. */
    public int id() {
        return id;
    }

    /** Elements per block (1 for plain types such as F32). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block. */
    public int typeSize() {
        return typeSize;
    }

    /** True for the block-quantized types (everything whose block holds more than one element). */
    public boolean isQuantized() {
        return blockSize > 1;
    }

    /**
     * Bytes that {@code elements} values of this type occupy.
     *
     * @throws IllegalArgumentException if {@code elements} is negative or not a multiple of the block size
     * @throws ArithmeticException if the size overflows a long
     */
    public long byteSize(long elements) {
        if (elements < 0 || elements % blockSize != 0) {
            throw new IllegalArgumentException(
                    name() + ": " + elements + " elements is not a whole number of " + blockSize + "-element blocks");
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }

    /** The type with this id, if ggml defines one. */
    public static Optional<GgmlType> fromId(int id) {
        return id >= 0 && id < BY_ID.length ? Optional.ofNullable(BY_ID[id]) : Optional.empty();
    }
}
