package io.github.flux4j.core.nn;

import io.github.flux4j.core.torch.Torch;
import java.util.Arrays;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Argument checks shared by the linear layers, so their messages read the same. */
final class LinearChecks {
    private LinearChecks() {}

    static void checkInput(String layer, Tensor x, long in, ScalarType dtype) {
        if (x.isNull()) {
            throw new IllegalArgumentException(layer + ": input tensor is freed (null)");
        }
        long dims = x.dim();
        if (dims < 1 || x.size(-1) != in) {
            throw new IllegalArgumentException(
                    layer + ": input of shape " + shape(x) + " does not end in " + "inFeatures " + in);
        }
        checkDtype(layer, x, dtype);
    }

    static void checkDtype(String layer, Tensor x, ScalarType dtype) {
        ScalarType t = Torch.dtype(x);
        if (t != dtype) {
            throw new IllegalArgumentException(layer + ": input dtype " + t + " differs from the layer's " + dtype);
        }
    }

    /** Column groups of {@link LinearOp#forwardSplit}: positive widths adding up to {@code out}. */
    static void checkSplit(long[] widths, boolean[] gelu, long out) {
        if (widths == null || gelu == null) {
            throw new IllegalArgumentException("forwardSplit: widths and GELU flags must not be null");
        }
        if (widths.length == 0 || widths.length != gelu.length) {
            throw new IllegalArgumentException("forwardSplit: " + widths.length + " widths and " + gelu.length
                    + " GELU flags (need as many, at least one)");
        }
        long sum = 0;
        for (long w : widths) {
            if (w <= 0) {
                throw new IllegalArgumentException(
                        "forwardSplit: widths must be positive, got " + Arrays.toString(widths));
            }
            sum += w;
        }
        if (sum != out) {
            throw new IllegalArgumentException("forwardSplit: widths " + Arrays.toString(widths) + " add up to " + sum
                    + ", not outFeatures " + out);
        }
    }

    /** {@link #checkJoined(Tensor[], long)}, and every part in the layer's compute dtype. */
    static void checkJoined(String layer, Tensor[] parts, long in, ScalarType dtype) {
        checkJoined(parts, in);
        for (Tensor p : parts) {
            checkDtype(layer, p, dtype);
        }
    }

    /** Parts of {@link LinearOp#forwardJoined}: same leading dimensions, widths adding up to {@code in}. */
    static void checkJoined(Tensor[] parts, long in) {
        if (parts == null || parts.length == 0) {
            throw new IllegalArgumentException("forwardJoined: no parts");
        }
        long sum = 0;
        long[] lead = null;
        for (int i = 0; i < parts.length; i++) {
            Tensor p = parts[i];
            if (p == null || p.isNull() || p.dim() < 1) {
                throw new IllegalArgumentException("forwardJoined: part " + i + " is null, freed or a scalar");
            }
            if (p.size(-1) <= 0) {
                throw new IllegalArgumentException("forwardJoined: part " + i + " has no columns: " + shape(p));
            }
            long[] s = p.sizes().vec().get();
            long[] l = Arrays.copyOf(s, s.length - 1);
            if (lead != null && !Arrays.equals(lead, l)) {
                throw new IllegalArgumentException("forwardJoined: parts of shapes " + Arrays.toString(lead)
                        + "[..] and " + shape(p) + " differ before the last dimension");
            }
            lead = l;
            sum += s[s.length - 1];
        }
        if (sum != in) {
            throw new IllegalArgumentException(
                    "forwardJoined: the parts' widths add up to " + sum + ", not inFeatures " + in);
        }
    }

    static String shape(Tensor t) {
        return Arrays.toString(t.sizes().vec().get());
    }
}
