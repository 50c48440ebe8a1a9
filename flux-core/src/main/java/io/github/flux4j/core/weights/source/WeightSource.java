package io.github.flux4j.core.weights.source;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.gguf.GgufMetadata;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Transformer weights under their BFL names, whatever format they are stored in.
 *
 * <pre>{@code
 * try (WeightSource w = WeightSource.open(Path.of("flux1-dev-Q4_K_S.gguf"))) {
 *     WeightInfo qkv = w.tensor("double_blocks.0.img_attn.qkv.weight"); // Q4_K [9216, 3072]
 *     ByteBuffer blocks = w.read(qkv);
 * }
 * }</pre>
 *
 * <ul>
 *   <li>{@link #gguf(Path)}: names as stored, minus a {@code model.diffusion_model.} prefix; types
 *       per tensor; {@link #architecture()} from {@code general.architecture}.</li>
 *   <li>{@link #safetensors(Path)}: a BFL checkpoint such as {@code flux1-dev.safetensors}. If any
 *       name carries the {@code model.diffusion_model.} prefix, only those tensors are the model
 *       (an all-in-one checkpoint's VAE and text encoders are skipped) and the prefix is removed.
 *       A file with diffusers names is read as {@link #diffusers(Path)} would.</li>
 *   <li>{@link #diffusers(Path)}: a diffusers {@code transformer} folder (or the pipeline folder
 *       above it), sharded with {@code diffusion_pytorch_model.safetensors.index.json} or not.
 *       Its names are mapped back to BFL's ({@code to_q}/{@code to_k}/{@code to_v} rows joined
 *       into {@code qkv}, {@code norm_out.linear}'s scale/shift halves swapped back to BFL's
 *       shift/scale, and so on: see {@link DiffusersNames}).</li>
 * </ul>
 *
 * <p>Only F32, F16, BF16 and GGML block types can be loaded; other safetensors dtypes are listed
 * with a {@code null} {@link WeightInfo#type()}. Buffers returned by {@link #read} must not be
 * used after {@link #close()}.
 */
public interface WeightSource extends AutoCloseable {
    /** The GGUF key naming the model a file holds ({@code flux}, {@code t5encoder}, {@code clip}). */
    String ARCHITECTURE_KEY = "general.architecture";

    /** The metadata of a source that has none. */
    GgufMetadata NO_METADATA = new GgufMetadata(Map.of());

    /** The storage format. */
    WeightFormat format();

    /** The file or folder, for messages. */
    Path path();

    /**
     * The file's own key-value metadata, typed: a GGUF header's keys ({@code general.architecture},
     * {@code t5encoder.block_count}, ...); empty for the safetensors formats, whose configuration
     * is {@link #config()}. Look keys up with {@link GgufMetadata#findLong}, {@code findString}...
     */
    default GgufMetadata metadata() {
        return NO_METADATA;
    }

    /** {@code general.architecture} of a GGUF file; empty for other formats or when absent. */
    default Optional<String> architecture() {
        return metadata().findString(ARCHITECTURE_KEY);
    }

    /** A diffusers folder's {@code config.json}, parsed; empty for other formats. */
    Map<String, Object> config();

    /** All tensors, under their BFL names (names the format cannot map are kept as stored). */
    List<WeightInfo> tensors();

    /** The tensor with this BFL name, if the source has it. */
    Optional<WeightInfo> find(String name);

    /**
     * The tensor with this BFL name.
     *
     * @throws WeightException naming the source and the tensor if there is none
     */
    default WeightInfo tensor(String name) {
        return find(name).orElseThrow(() -> new WeightException(path() + ": no tensor " + name + missingHint(name)));
    }

    /**
     * A note on where a missing BFL name would have come from, such as the diffusers tensors it
     * is joined from and which of them are absent; empty when there is nothing to add. Starts
     * with a space when not empty.
     */
    default String missingHint(String name) {
        return "";
    }

    /**
     * A tensor's bytes, little-endian, position 0, limit {@link WeightInfo#byteSize()}: a view of
     * the mapped file where the tensor is stored in one piece, a fresh direct buffer where it is
     * joined from parts.
     *
     * @throws WeightException if the tensor is not from this source or is 2 GiB or larger (read
     *                         it in parts with {@link #read(WeightInfo, long, int)})
     */
    ByteBuffer read(WeightInfo tensor);

    /** {@code length} bytes of a tensor from {@code offsetInTensor}. */
    ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length);

    /**
     * Gives back a buffer that {@link #read} returned and the caller is done with. A source that
     * maps its file anew on every read (GGUF, safetensors) unmaps it now, so that the file's pages
     * leave the process's resident memory at once rather than after some later garbage
     * collection. The buffer must not be read again: after an unmap that would crash the JVM.
     * This default gives nothing back.
     *
     * @return true if the buffer's memory was given back now; false if that is left to the
     *     garbage collector
     */
    default boolean release(ByteBuffer buffer) {
        return false;
    }

    /**
     * Closes the underlying files.
     *
     * @throws FluxIoException if the system fails to close one
     */
    @Override
    void close();

    /**
     * Opens a GGUF file.
     *
     * @throws io.github.flux4j.gguf.GgufFormatException if it is not valid GGUF
     * @throws FluxIoException                           if it cannot be read
     */
    static WeightSource gguf(Path file) {
        return GgufWeightSource.open(file);
    }

    /**
     * Opens a single safetensors file, BFL-named or diffusers-named (detected from its names).
     *
     * @throws SafetensorsFormatException if it is not valid safetensors
     * @throws FluxIoException            if it cannot be read
     */
    static WeightSource safetensors(Path file) {
        return SafetensorsWeightSource.openFile(file);
    }

    /**
     * Opens a diffusers transformer folder: {@code dir} itself or {@code dir/transformer}, holding
     * {@code diffusion_pytorch_model.safetensors.index.json} with its shards, or a single
     * {@code diffusion_pytorch_model.safetensors}.
     *
     * @throws WeightException if the folder or its files are not what it claims
     * @throws FluxIoException if a file cannot be read (the cause a {@link NoSuchFileException}
     *                         if {@code dir} is not a folder)
     */
    static WeightSource diffusers(Path dir) {
        try {
            return SafetensorsWeightSource.openDiffusersFolder(dir);
        } catch (IOException e) {
            throw FluxIoException.of(dir, e);
        }
    }

    /**
     * Opens weights in any of the three formats: a folder as {@linkplain #diffusers diffusers},
     * a file starting with the GGUF magic or named {@code *.gguf} (any case) as {@linkplain #gguf
     * GGUF}, any other file as {@linkplain #safetensors safetensors}. So an empty or truncated
     * {@code .gguf} file is reported as invalid GGUF
     * ({@link io.github.flux4j.gguf.GgufFormatException}), not as a bad safetensors header.
     *
     * @throws FluxIoException if a file cannot be read (the cause a {@link NoSuchFileException}
     *                         if {@code path} does not exist)
     */
    static WeightSource open(Path path) {
        if (Files.isDirectory(path)) {
            return diffusers(path);
        }
        try {
            if (!Files.isRegularFile(path)) {
                throw new NoSuchFileException(path.toString());
            }
            return isGguf(path) ? gguf(path) : safetensors(path);
        } catch (IOException e) {
            throw FluxIoException.of(path, e);
        }
    }

    /**
     * Whether a file is to be read as GGUF: it starts with the GGUF magic, or its name ends with
     * {@code .gguf} (any case; then a file too short or with another magic is an invalid GGUF file).
     */
    private static boolean isGguf(Path file) throws IOException {
        Path name = file.getFileName();
        if (name != null && name.toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf")) {
            return true;
        }
        byte[] magic = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(magic, 0, 4);
        }
        return n == 4 && "GGUF".equals(new String(magic, StandardCharsets.US_ASCII));
    }
}
