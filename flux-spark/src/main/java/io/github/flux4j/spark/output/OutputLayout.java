package io.github.flux4j.spark.output;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;

/**
 * The files of a batch under its output URI:
 *
 * <pre>
 * OUTPUT/
 *   images/ID_sSEED_INDEX.png       one per image (.jpg for JPEG)
 *   _complete/ID_sSEED.properties   one per finished request, written after its images
 *   results/                        the results table (Parquet, JSON or CSV)
 * </pre>
 *
 * <p>Every name derives from the request's id, seed and image index only, so a retried or
 * speculative task writes the very same files, and a re-run finds them. An id that is not a safe
 * file name ({@code [A-Za-z0-9][A-Za-z0-9._-]*}, at most {@value #MAX_PLAIN_ID} characters) is
 * written as its safe characters (others become {@code _}, at most 48 kept) plus {@code ~} and 16
 * hex digits of the id's SHA-256, so that different ids never share a name.
 * Names starting with {@code _} or {@code .} are hidden from Spark's and Hadoop's readers.
 */
public final class OutputLayout implements Serializable {
    private static final long serialVersionUID = 1L;
    /** The folder of the images. */
    public static final String IMAGES = "images";
    /** The folder of the completion markers (hidden from Spark's readers). */
    public static final String COMPLETE = "_complete";
    /** The folder of the results table. */
    public static final String RESULTS = "results";
    /** The longest id used as is in file names. */
    public static final int MAX_PLAIN_ID = 100;

    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    private final String root;

    /**
     * @param root the output URI, qualified (with its scheme), e.g. {@code hdfs://nn/batches/b1}
     */
    public OutputLayout(String root) {
        Objects.requireNonNull(root, "root");
        this.root = root.endsWith("/") && root.length() > 1 ? root.substring(0, root.length() - 1) : root;
    }

    /** The output URI. */
    public String root() {
        return root;
    }

    /** The folder of the images. */
    public Path imagesDir() {
        return new Path(root, IMAGES);
    }

    /** The folder of the completion markers. */
    public Path completeDir() {
        return new Path(root, COMPLETE);
    }

    /** The folder of the results table. */
    public Path resultsDir() {
        return new Path(root, RESULTS);
    }

    /**
     * The file of image {@code index} of request {@code id} with {@code seed}.
     *
     * @param extension {@code png} or {@code jpg}
     */
    public Path image(String id, long seed, int index, String extension) {
        return new Path(imagesDir(), fileId(id) + "_s" + seed + "_" + index + "." + extension);
    }

    /** The completion marker of request {@code id} with {@code seed}. */
    public Path marker(String id, long seed) {
        return new Path(completeDir(), fileId(id) + "_s" + seed + ".properties");
    }

    /** The form of {@code id} used in file names (see the class comment). */
    public static String fileId(String id) {
        if (id.length() <= MAX_PLAIN_ID && PLAIN.matcher(id).matches()) {
            return id;
        }
        StringBuilder safe = new StringBuilder();
        for (int i = 0; i < id.length() && safe.length() < 48; i++) {
            char c = id.charAt(i);
            boolean ok = c < 128 && (Character.isLetterOrDigit(c) || c == '.' || c == '-' || c == '_');
            safe.append(ok ? c : '_');
        }
        // Never hidden: a leading '.' or '_' would make Hadoop's readers skip the file.
        while (safe.length() > 0 && (safe.charAt(0) == '.' || safe.charAt(0) == '_')) {
            safe.deleteCharAt(0);
        }
        return (safe.length() == 0 ? "id" : safe.toString()) + "~"
                + sha256Hex(id).substring(0, 16);
    }

    static String sha256Hex(String s) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "OutputLayout[%s]", root);
    }
}
