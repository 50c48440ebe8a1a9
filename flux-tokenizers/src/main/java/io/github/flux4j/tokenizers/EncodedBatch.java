package io.github.flux4j.tokenizers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Token ids and attention masks of a batch of texts, plus what truncation removed from each
 * row. Immutable; accessors return copies.
 *
 * <p>For FLUX every row has the same length, so {@link #inputIdsFlat()} and
 * {@link #attentionMaskFlat()} give the row-major {@code [batch, sequenceLength]} data of an
 * {@code int64} tensor directly.
 */
public final class EncodedBatch {
    private final int[][] ids;
    private final int[][] masks;
    private final int[][] untruncated;
    private final int[][] removed;
    private final String[] removedText;

    EncodedBatch(int[][] ids, int[][] masks, int[][] untruncated, int[][] removed, String[] removedText) {
        this.ids = ids;
        this.masks = masks;
        this.untruncated = untruncated;
        this.removed = removed;
        this.removedText = removedText;
    }

    /** The number of rows (texts). */
    public int size() {
        return ids.length;
    }

    /** The length of row {@code row}, padding included. */
    public int length(int row) {
        return ids[row].length;
    }

    /**
     * The common length of all rows.
     *
     * @throws IllegalStateException if rows differ in length (only possible without padding, or
     *     without truncation when a text is longer than the maximum)
     */
    public int sequenceLength() {
        if (ids.length == 0) {
            return 0;
        }
        int n = ids[0].length;
        for (int[] r : ids) {
            if (r.length != n) {
                throw new IllegalStateException("rows differ in length (" + n + " and " + r.length + ")");
            }
        }
        return n;
    }

    /** The ids of row {@code row}: special tokens, text tokens, then padding. */
    public int[] inputIds(int row) {
        return ids[row].clone();
    }

    /** The attention mask of row {@code row}: 1 for real tokens (special ones too), 0 for padding. */
    public int[] attentionMask(int row) {
        return masks[row].clone();
    }

    /** The number of real (non-padding) tokens of row {@code row}. */
    public int realLength(int row) {
        int n = 0;
        for (int m : masks[row]) {
            n += m;
        }
        return n;
    }

    /** All ids, row after row ({@code [size(), sequenceLength()]}), widened for an int64 tensor. */
    public long[] inputIdsFlat() {
        return flat(ids);
    }

    /** All attention masks, row after row ({@code [size(), sequenceLength()]}). */
    public long[] attentionMaskFlat() {
        return flat(masks);
    }

    private long[] flat(int[][] rows) {
        int n = sequenceLength();
        long[] out = new long[rows.length * n];
        for (int r = 0; r < rows.length; r++) {
            for (int i = 0; i < n; i++) {
                out[r * n + i] = rows[r][i];
            }
        }
        return out;
    }

    /** Whether truncation removed tokens from row {@code row}. */
    public boolean truncated(int row) {
        return removed[row].length > 0;
    }

    /** Whether truncation removed tokens from any row (when diffusers logs its warning). */
    public boolean anyTruncated() {
        for (int[] r : removed) {
            if (r.length > 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * The ids of row {@code row} without truncation or padding (special tokens included): what
     * diffusers compares against to detect truncation.
     */
    public int[] untruncatedIds(int row) {
        return untruncated[row].clone();
    }

    /** The text tokens that truncation removed from row {@code row} (empty if none). */
    public int[] removedIds(int row) {
        return removed[row].clone();
    }

    /** The decoded text that truncation removed from row {@code row} ("" if none). */
    public String removedText(int row) {
        return removedText[row];
    }

    /** The removed text of every truncated row, in row order. */
    public List<String> removedTexts() {
        List<String> out = new ArrayList<>();
        for (int r = 0; r < removed.length; r++) {
            if (removed[r].length > 0) {
                out.add(removedText[r]);
            }
        }
        return Collections.unmodifiableList(out);
    }
}
