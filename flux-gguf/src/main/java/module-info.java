/**
 * GGUF reading, writing, dequantizing and quantizing in pure Java, and the exception types that
 * every flux4j module shares ({@link io.github.flux4j.FluxException}). Every package is API.
 */
module io.github.flux4j.gguf {
    requires static transitive org.jspecify;
    // MappedRegions: sun.misc.Unsafe.invokeCleaner, the only unmap Java 17 has.
    requires jdk.unsupported;

    exports io.github.flux4j;
    exports io.github.flux4j.gguf;
    exports io.github.flux4j.gguf.quant;
}
