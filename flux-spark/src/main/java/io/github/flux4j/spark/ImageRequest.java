package io.github.flux4j.spark;

import io.github.flux4j.pipeline.GenerationOptions;
import java.io.Serializable;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.apache.spark.sql.Row;
import org.jspecify.annotations.Nullable;

/**
 * One row of a request table: a prompt and how to render it.
 *
 * <p>Columns (names as in {@link #COLUMNS}; only {@code id} and {@code prompt} are required, the
 * others may be missing or null):
 * <table>
 *   <caption>Request columns</caption>
 *   <tr><th>column</th><th>type</th><th>default</th></tr>
 *   <tr><td>{@code id}</td><td>string (numbers are converted)</td><td>required, unique in the table</td></tr>
 *   <tr><td>{@code prompt}</td><td>string</td><td>required</td></tr>
 *   <tr><td>{@code seed}</td><td>integer (64-bit)</td><td>{@link #defaultSeed(String) derived from the id}</td></tr>
 *   <tr><td>{@code width}, {@code height}</td><td>integer, pixels</td><td>the model's (1024 for FLUX.1)</td></tr>
 *   <tr><td>{@code steps}</td><td>integer</td><td>the model's (28 for dev, 4 for schnell)</td></tr>
 *   <tr><td>{@code guidance}</td><td>number</td><td>3.5</td></tr>
 *   <tr><td>{@code images_per_prompt}</td><td>integer</td><td>1</td></tr>
 * </table>
 * Strings that hold numbers (CSV) are accepted. The limits are {@link GenerationOptions}'.
 *
 * @param id              the request's id: names its files and its rows in the results table
 * @param prompt          the prompt
 * @param seed            the noise seed (one generator for all images of the request, as in
 *                        diffusers' {@code num_images_per_prompt})
 * @param width           the image width, or null for the model's default
 * @param height          the image height, or null for the model's default
 * @param steps           denoising steps, or null for the model's default
 * @param guidance        the guidance scale, or null for 3.5
 * @param imagesPerPrompt images generated (in one batch)
 */
public record ImageRequest(
        String id,
        String prompt,
        long seed,
        @Nullable Integer width,
        @Nullable Integer height,
        @Nullable Integer steps,
        @Nullable Double guidance,
        int imagesPerPrompt)
        implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The column names read, in this order. */
    public static final List<String> COLUMNS =
            List.of("id", "prompt", "seed", "width", "height", "steps", "guidance", "images_per_prompt");

    /**
     * Checks the id and prompt are given and the options are valid.
     *
     * @throws IllegalArgumentException naming the option that is not
     */
    public ImageRequest {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(prompt, "prompt");
        if (id.isEmpty()) {
            throw new IllegalArgumentException("id: empty");
        }
        toOptions(id, seed, width, height, steps, guidance, imagesPerPrompt); // every check of GenerationOptions
    }

    /** A request with every default but the seed's. */
    public static ImageRequest of(String id, String prompt) {
        return new ImageRequest(id, prompt, defaultSeed(id), null, null, null, null, 1);
    }

    /**
     * The seed of a request without one: the first 8 bytes of SHA-256 of {@code "flux4j-seed:" + id}
     * (big-endian), so that the same id always gets the same images.
     */
    public static long defaultSeed(String id) {
        try {
            byte[] h =
                    MessageDigest.getInstance("SHA-256").digest(("flux4j-seed:" + id).getBytes(StandardCharsets.UTF_8));
            long s = 0;
            for (int i = 0; i < 8; i++) {
                s = (s << 8) | (h[i] & 0xff);
            }
            return s;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The pipeline options of this request (no progress listener, no cancellation). */
    public GenerationOptions options() {
        return toOptions(id, seed, width, height, steps, guidance, imagesPerPrompt);
    }

    private static GenerationOptions toOptions(
            String id,
            long seed,
            @Nullable Integer width,
            @Nullable Integer height,
            @Nullable Integer steps,
            @Nullable Double guidance,
            int n) {
        GenerationOptions.Builder b = GenerationOptions.builder().seed(seed).numImagesPerPrompt(n);
        if (width != null) {
            b.width(width);
        }
        if (height != null) {
            b.height(height);
        }
        if (steps != null) {
            b.steps(steps);
        }
        if (guidance != null) {
            b.guidanceScale(guidance);
        }
        return b.build();
    }

    /**
     * The request in {@code row}, whose fields are named as {@link #COLUMNS} (as
     * {@link RequestTables#normalize} selects them).
     *
     * @throws IllegalArgumentException naming the column whose value is missing, of the wrong
     *                                  type or out of range
     */
    public static ImageRequest fromRow(Row row) {
        String id = text(row, "id");
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("id: missing (every request needs a non-empty id)");
        }
        String prompt = text(row, "prompt");
        if (prompt == null) {
            throw new IllegalArgumentException("prompt: missing");
        }
        Long seed = integer(row, "seed", Long.MIN_VALUE, Long.MAX_VALUE);
        Long width = integer(row, "width", Integer.MIN_VALUE, Integer.MAX_VALUE);
        Long height = integer(row, "height", Integer.MIN_VALUE, Integer.MAX_VALUE);
        Long steps = integer(row, "steps", Integer.MIN_VALUE, Integer.MAX_VALUE);
        Double guidance = number(row, "guidance");
        Long n = integer(row, "images_per_prompt", Integer.MIN_VALUE, Integer.MAX_VALUE);
        return new ImageRequest(
                id,
                prompt,
                seed != null ? seed : defaultSeed(id),
                toInt(width),
                toInt(height),
                toInt(steps),
                guidance,
                n != null ? n.intValue() : 1);
    }

    /** The id in {@code row} as {@link #fromRow} reads it, or null if it has none. */
    static @Nullable String idOf(Row row) {
        try {
            String id = text(row, "id");
            return id == null || id.isEmpty() ? null : id;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static @Nullable Integer toInt(@Nullable Long v) {
        return v == null ? null : Integer.valueOf(v.intValue());
    }

    private static @Nullable Object value(Row row, String column) {
        int i;
        try {
            i = row.fieldIndex(column);
        } catch (IllegalArgumentException e) {
            return null; // an optional column the table does not have
        }
        return row.isNullAt(i) ? null : row.get(i);
    }

    private static @Nullable String text(Row row, String column) {
        Object v = value(row, column);
        if (v == null) {
            return null;
        }
        if (v instanceof String s) {
            return s;
        }
        if (v instanceof Number || v instanceof Character) {
            return v instanceof BigDecimal d ? d.toPlainString() : v.toString();
        }
        throw new IllegalArgumentException(
                column + ": expected text, got a " + v.getClass().getSimpleName());
    }

    private static @Nullable Long integer(Row row, String column, long min, long max) {
        Object v = value(row, column);
        if (v == null) {
            return null;
        }
        long x;
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            x = ((Number) v).longValue();
        } else if (v instanceof Number num) {
            BigDecimal d = num instanceof BigDecimal b ? b : new BigDecimal(num.toString());
            try {
                x = d.longValueExact();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(column + ": expected an integer, got " + num, e);
            }
        } else if (v instanceof String s) {
            String t = s.strip();
            if (t.isEmpty()) {
                return null;
            }
            try {
                x = Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(column + ": expected an integer, got '" + s + "'", e);
            }
        } else {
            throw new IllegalArgumentException(
                    column + ": expected an integer, got a " + v.getClass().getSimpleName());
        }
        if (x < min || x > max) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s: %d is out of range", column, x));
        }
        return x;
    }

    private static @Nullable Double number(Row row, String column) {
        Object v = value(row, column);
        if (v == null) {
            return null;
        }
        if (v instanceof Number num) {
            return num.doubleValue();
        }
        if (v instanceof String s) {
            String t = s.strip();
            if (t.isEmpty()) {
                return null;
            }
            try {
                return Double.parseDouble(t);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(column + ": expected a number, got '" + s + "'", e);
            }
        }
        throw new IllegalArgumentException(
                column + ": expected a number, got a " + v.getClass().getSimpleName());
    }
}
