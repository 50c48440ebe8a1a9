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
        ScalarType t = Torch.dtype(x);
        if (t != dtype) {
            throw new IllegalArgumentException(layer + ": input dtype " + t + " differs from the layer's " + dtype);
        }
    }

    static String shape(Tensor t) {
        return Arrays.toString(t.sizes().vec().get());
    }
}
