package io.github.flux4j.spark.output;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The record that a request is complete: written (atomically) after all of its images, so a
 * request with a marker whose {@link #fingerprint()} matches and whose images exist needs no
 * work. It also keeps what the results table reports about the generation, so that a re-run can
 * report skipped requests in full. Stored as a {@code .properties} file (UTF-8, sorted keys).
 *
 * @param fingerprint identifies the request and everything that shapes its bytes (prompt, seed,
 *                    size, steps, guidance, images, model, dtype, image format)
 * @param id          the request's id
 * @param seed        the noise seed
 * @param width       the images' width
 * @param height      the images' height
 * @param steps       denoising steps run
 * @param guidance    the guidance scale used (NaN without guidance embedding)
 * @param images      the images' URIs and SHA-256s, by index
 * @param device      where they were generated ({@code cuda:1}, {@code cpu})
 * @param executor    the Spark executor and host
 * @param timings     the request's stage times
 * @param warnings    the pipeline's warnings (size rounding, prompt truncation, ...)
 */
public record CompletionMarker(
        String fingerprint,
        String id,
        long seed,
        int width,
        int height,
        int steps,
        double guidance,
        List<Image> images,
        String device,
        String executor,
        StageMillis timings,
        List<String> warnings) {
    private static final String FORMAT = "flux4j-spark-complete-1";
    /** Markers are small; a larger file is not one. */
    private static final long MAX_BYTES = 1 << 20;

    /** Copies the lists. */
    public CompletionMarker {
        Objects.requireNonNull(fingerprint, "fingerprint");
        Objects.requireNonNull(id, "id");
        images = List.copyOf(images);
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(executor, "executor");
        Objects.requireNonNull(timings, "timings");
        warnings = List.copyOf(warnings);
    }

    /**
     * One image of a request.
     *
     * @param uri    the file's qualified URI
     * @param sha256 its bytes' SHA-256, lowercase hex
     */
    public record Image(String uri, String sha256) {
        /** Checks both are given. */
        public Image {
            Objects.requireNonNull(uri, "uri");
            Objects.requireNonNull(sha256, "sha256");
        }
    }

    /**
     * The stage times of one request, in milliseconds.
     *
     * @param textEncoding both text encoders
     * @param denoising    all denoising steps
     * @param decode       the VAE decoder and post-processing
     * @param write        encoding the images and writing them
     * @param total        the request from the start of its generation to its marker (a pipeline load
     *                     before it is not counted)
     */
    public record StageMillis(double textEncoding, double denoising, double decode, double write, double total) {}

    /** The marker as {@code .properties} text, keys sorted, no date line: the same marker gives the same bytes. */
    public String toText() {
        TreeMap<String, String> m = new TreeMap<>();
        m.put("format", FORMAT);
        m.put("fingerprint", fingerprint);
        m.put("id", id);
        m.put("seed", Long.toString(seed));
        m.put("width", Integer.toString(width));
        m.put("height", Integer.toString(height));
        m.put("steps", Integer.toString(steps));
        m.put("guidance", Double.toString(guidance));
        m.put("images", Integer.toString(images.size()));
        for (int i = 0; i < images.size(); i++) {
            m.put("image." + i + ".uri", images.get(i).uri());
            m.put("image." + i + ".sha256", images.get(i).sha256());
        }
        m.put("device", device);
        m.put("executor", executor);
        m.put("ms.text_encoding", Double.toString(timings.textEncoding()));
        m.put("ms.denoising", Double.toString(timings.denoising()));
        m.put("ms.decode", Double.toString(timings.decode()));
        m.put("ms.write", Double.toString(timings.write()));
        m.put("ms.total", Double.toString(timings.total()));
        m.put("warnings", Integer.toString(warnings.size()));
        for (int i = 0; i < warnings.size(); i++) {
            m.put("warning." + i, warnings.get(i));
        }
        StringBuilder sb = new StringBuilder("# flux4j-spark: this request is complete\n");
        m.forEach((k, v) -> {
            Properties one = new Properties();
            one.setProperty(k, v);
            StringWriter w = new StringWriter();
            try {
                one.store(w, null);
            } catch (IOException e) {
                throw new IllegalStateException(e); // a StringWriter does not fail
            }
            // store() escapes the key and value; its first line is the date comment
            w.toString()
                    .lines()
                    .filter(l -> !l.startsWith("#"))
                    .forEach(l -> sb.append(l).append('\n'));
        });
        return sb.toString();
    }

    /**
     * Parses {@link #toText()}'s output.
     *
     * @throws IllegalArgumentException naming the missing or malformed key
     */
    public static CompletionMarker parse(String text) {
        Properties p = new Properties();
        try {
            p.load(new StringReader(text));
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException("not a completion marker: " + e.getMessage(), e);
        }
        if (!FORMAT.equals(p.getProperty("format"))) {
            throw new IllegalArgumentException(
                    "not a completion marker: format is '" + p.getProperty("format") + "', expected '" + FORMAT + "'");
        }
        int n = integer(p, "images");
        List<Image> images = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            images.add(new Image(string(p, "image." + i + ".uri"), string(p, "image." + i + ".sha256")));
        }
        int w = integer(p, "warnings");
        List<String> warnings = new ArrayList<>();
        for (int i = 0; i < w; i++) {
            warnings.add(string(p, "warning." + i));
        }
        StageMillis t = new StageMillis(
                number(p, "ms.text_encoding"),
                number(p, "ms.denoising"),
                number(p, "ms.decode"),
                number(p, "ms.write"),
                number(p, "ms.total"));
        return new CompletionMarker(
                string(p, "fingerprint"),
                string(p, "id"),
                Long.parseLong(string(p, "seed")),
                integer(p, "width"),
                integer(p, "height"),
                integer(p, "steps"),
                number(p, "guidance"),
                images,
                string(p, "device"),
                string(p, "executor"),
                t,
                warnings);
    }

    /** Writes the marker to {@code file}, atomically ({@link AtomicFiles#write}). */
    public void write(FileSystem fs, Path file, String tag) throws IOException {
        AtomicFiles.write(fs, file, toText().getBytes(StandardCharsets.UTF_8), tag);
    }

    /**
     * The marker in {@code file}, or empty if there is none or it is not a readable marker (the
     * request is then generated again, and the marker replaced).
     *
     * @throws IOException if the file system fails (other than the file being absent)
     */
    public static Optional<CompletionMarker> read(FileSystem fs, Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = AtomicFiles.readFully(fs, file, MAX_BYTES);
        } catch (java.io.FileNotFoundException e) {
            return Optional.empty();
        }
        try {
            return Optional.of(parse(new String(bytes, StandardCharsets.UTF_8)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static String string(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IllegalArgumentException("completion marker: no '" + key + "'");
        }
        return v;
    }

    private static int integer(Properties p, String key) {
        try {
            return Integer.parseInt(string(p, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("completion marker: '" + key + "' is not an integer", e);
        }
    }

    private static double number(Properties p, String key) {
        try {
            return Double.parseDouble(string(p, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("completion marker: '" + key + "' is not a number", e);
        }
    }
}
