package io.github.flux4j.core.quant;

/**
 * The floating-point arithmetic a dequantization runs in. The two choices give different low bits
 * for the legacy and K-quant types, so pick the one that matches the implementation you compare
 * against.
 */
public enum DequantArithmetic {
    /**
     * Every operation in float32, in gguf-py's order (for K-quants {@code (d*sc)*q - (dmin*m)}):
     * bit-identical to gguf-py's {@code gguf.quants.dequantize} and to flux-gguf's pure-Java
     * dequantizer. The default.
     */
    EXACT_FLOAT32,
    /**
     * diffusers' GGUF path: its dequantize functions run with {@code dtype=None}, so the float16
     * scales keep every product and sum in float16, each operation rounded to float16 once. Use it
     * to reproduce diffusers' weights bit for bit (its result is then cast to the compute dtype).
     * IQ4_NL and IQ4_XS look their values up in a float32 table, so their final product is float32
     * (IQ4_XS's block scale {@code d*sc} is still rounded to float16 first); BF16, F16 and F32 are
     * plain conversions in both modes.
     */
    FLOAT16_LIKE_DIFFUSERS
}
