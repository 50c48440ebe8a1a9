package io.github.flux4j.core.text;

import java.util.Arrays;
import java.util.Locale;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The activation functions of transformers' {@code ACT2FN} that text encoders use, each computed
 * with the same ATen ops in the same order as transformers, so that bf16 results round alike
 * (the Python-formula activations round after every op).
 */
public enum HfActivation {
    /** {@code quick_gelu}: {@code x * sigmoid(1.702 * x)} (OpenAI CLIP). */
    QUICK_GELU("quick_gelu"),
    /** {@code gelu}: {@code F.gelu(x)}, the exact erf form. */
    GELU("gelu"),
    /**
     * {@code gelu_new}: {@code 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))} as
     * separate ops (T5 v1.1's gated-gelu). Not bitwise equal to {@link #GELU_PYTORCH_TANH}.
     */
    GELU_NEW("gelu_new"),
    /** {@code gelu_pytorch_tanh}: {@code F.gelu(x, approximate="tanh")}, one fused op. */
    GELU_PYTORCH_TANH("gelu_pytorch_tanh"),
    /** {@code relu} (the original T5). */
    RELU("relu"),
    /** {@code silu} / {@code swish}. */
    SILU("silu");

    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);

    private final String configName;

    HfActivation(String configName) {
        this.configName = configName;
    }

    /** The name transformers' configs use ({@code hidden_act}, {@code dense_act_fn}). */
    public String configName() {
        return configName;
    }

    /**
     * The activation a config names.
     *
     * @throws IllegalArgumentException naming the supported names if {@code name} is not one
     */
    public static HfActivation fromConfigName(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        if (n.equals("swish")) {
            return SILU;
        }
        for (HfActivation a : values()) {
            if (a.configName.equals(n)) {
                return a;
            }
        }
        throw new IllegalArgumentException("activation '" + name + "' is not supported; supported: "
                + Arrays.stream(values()).map(HfActivation::configName).toList());
    }

    /**
     * Applies the activation. The result (and every temporary) belongs to the caller's
     * PointerScope.
     */
    public Tensor apply(Tensor x) {
        return switch (this) {
            case QUICK_GELU -> x.mul(torch.sigmoid(x.mul(new Scalar(1.702))));
            case GELU -> torch.gelu(x);
            // transformers' NewGELUActivation: 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
            //     * (input + 0.044715 * torch.pow(input, 3.0)))), left to right.
            case GELU_NEW -> {
                Tensor half = x.mul(new Scalar(0.5));
                Tensor inner =
                        x.add(x.pow(new Scalar(3.0)).mul(new Scalar(0.044715))).mul(new Scalar(SQRT_2_OVER_PI));
                yield half.mul(torch.tanh(inner).add(new Scalar(1.0)));
            }
            case GELU_PYTORCH_TANH -> torch.gelu(x, "tanh");
            case RELU -> torch.relu(x);
            case SILU -> torch.silu(x);
        };
    }
}
