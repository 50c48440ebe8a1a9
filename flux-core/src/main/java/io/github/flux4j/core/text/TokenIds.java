package io.github.flux4j.core.text;

import io.github.flux4j.core.torch.Tensors;
import org.bytedeco.pytorch.Tensor;

/** Token-id batches as the int64 tensors the encoders take. */
public final class TokenIds {
    private TokenIds() {}

    /**
     * A CPU int64 tensor {@code [rows, length]} of the given rows, in the caller's PointerScope.
     *
     * @throws IllegalArgumentException if there are no rows, a row is empty or the rows differ
     *                                  in length
     */
    public static Tensor batch(int[]... rows) {
        if (rows.length == 0 || rows[0].length == 0) {
            throw new IllegalArgumentException("need at least one non-empty row of token ids");
        }
        int len = rows[0].length;
        long[] flat = new long[Math.multiplyExact(rows.length, len)];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length != len) {
                throw new IllegalArgumentException("row " + r + " has " + rows[r].length + " ids, row 0 has " + len
                        + "; pad the rows to one length");
            }
            for (int i = 0; i < len; i++) {
                flat[r * len + i] = rows[r][i];
            }
        }
        return Tensors.fromLongs(flat, rows.length, len);
    }
}
