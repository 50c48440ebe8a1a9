package io.github.flux4j.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.jspecify.annotations.Nullable;

/**
 * Reads request tables ({@link ImageRequest}'s columns) from Parquet, CSV (with a header line)
 * or JSON (one object per line), and brings any {@code Dataset<Row>} to the columns the batch reads.
 */
public final class RequestTables {
    /** The formats read. */
    public enum Format {
        /** Apache Parquet. */
        PARQUET,
        /** CSV with a header line naming the columns; every value is read as text and parsed per request. */
        CSV,
        /** JSON Lines: one object per line. */
        JSON;

        /**
         * The format of {@code uri}'s extension: {@code .parquet}, {@code .csv}, {@code .json},
         * {@code .jsonl} or {@code .ndjson} (a folder without one is read as Parquet, Spark's
         * default output).
         *
         * @throws IllegalArgumentException for another extension
         */
        public static Format forUri(String uri) {
            String u = uri.toLowerCase(Locale.ROOT);
            while (u.endsWith("/")) {
                u = u.substring(0, u.length() - 1);
            }
            String name = u.substring(u.lastIndexOf('/') + 1);
            if (name.endsWith(".parquet")) {
                return PARQUET;
            }
            if (name.endsWith(".csv")) {
                return CSV;
            }
            if (name.endsWith(".json") || name.endsWith(".jsonl") || name.endsWith(".ndjson")) {
                return JSON;
            }
            if (!name.contains(".")) {
                return PARQUET;
            }
            throw new IllegalArgumentException("cannot tell the format of the request table '" + uri
                    + "' from its name: give the format (parquet, csv or json)");
        }
    }

    private RequestTables() {}

    /**
     * Reads the request table at {@code uri} (any Hadoop file system URI; a file or a folder of parts).
     *
     * @param format null to tell it from the name ({@link Format#forUri})
     */
    public static Dataset<Row> read(SparkSession spark, String uri, @Nullable Format format) {
        Format f = format != null ? format : Format.forUri(uri);
        return switch (f) {
            case PARQUET -> spark.read().parquet(uri);
            // No schema inference: every value stays text and ImageRequest parses it, so a bad
            // cell fails its request (with the column named), not the job.
            case CSV ->
                spark.read()
                        .option("header", "true")
                        .option("inferSchema", "false")
                        .csv(uri);
            case JSON -> spark.read().option("mode", "FAILFAST").json(uri);
        };
    }

    /**
     * The columns of {@link ImageRequest#COLUMNS} of {@code requests}, in that order, a missing
     * optional column as nulls. Column names match case-insensitively; other columns are dropped.
     *
     * @throws IllegalArgumentException if {@code id} or {@code prompt} is missing (naming the
     *                                  columns found)
     */
    public static Dataset<Row> normalize(Dataset<Row> requests) {
        List<String> have = Arrays.asList(requests.columns());
        List<Column> select = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String name : ImageRequest.COLUMNS) {
            String found = have.stream()
                    .filter(c -> c.equalsIgnoreCase(name))
                    .findFirst()
                    .orElse(null);
            if (found != null) {
                select.add(col("`" + found.replace("`", "``") + "`").as(name));
            } else if (name.equals("id") || name.equals("prompt")) {
                missing.add(name);
            } else {
                select.add(lit(null).as(name));
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("the request table has no column " + String.join(" or ", missing)
                    + " (columns: " + String.join(", ", have) + "; needed: id, prompt; optional: seed, width, height,"
                    + " steps, guidance, images_per_prompt)");
        }
        return requests.select(select.toArray(new Column[0]));
    }
}
