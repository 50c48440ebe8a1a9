package io.github.flux4j.core.text;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.weights.WeightBinder;
import java.util.Objects;

/**
 * How to load a text encoder.
 *
 * @param device     where the weights live and the forward runs
 * @param dtype      the compute dtype of weights and activations: BF16 is what diffusers' FLUX
 *                   pipeline runs both encoders in; F32 for references and tests; F16 reproduces
 *                   transformers' float16 T5 (float32 {@code wo}, overflow clamping) but is not
 *                   recommended (T5-XXL overflows float16)
 * @param arithmetic how GGUF-quantized weights are expanded on each forward (exact float32 by
 *                   default)
 * @param strict     whether tensors of the checkpoint that the encoder does not use are an error
 *                   (default); tensors that belong to other models of a combined checkpoint are
 *                   hidden before that check (see each encoder's {@code load})
 */
public record TextEncoderOptions(FluxDevice device, ComputeDtype dtype, DequantArithmetic arithmetic, boolean strict) {

    /** Validates the fields. */
    public TextEncoderOptions {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(arithmetic, "arithmetic");
    }

    /** CPU, BF16, exact float32 dequantization, strict. */
    public static TextEncoderOptions defaults() {
        return new TextEncoderOptions(FluxDevice.cpu(), ComputeDtype.BF16, DequantArithmetic.EXACT_FLOAT32, true);
    }

    /** These options on another device. */
    public TextEncoderOptions withDevice(FluxDevice device) {
        return new TextEncoderOptions(device, dtype, arithmetic, strict);
    }

    /** These options with another compute dtype. */
    public TextEncoderOptions withDtype(ComputeDtype dtype) {
        return new TextEncoderOptions(device, dtype, arithmetic, strict);
    }

    /** These options with another dequantization arithmetic. */
    public TextEncoderOptions withArithmetic(DequantArithmetic arithmetic) {
        return new TextEncoderOptions(device, dtype, arithmetic, strict);
    }

    /** These options with strictness set. */
    public TextEncoderOptions withStrict(boolean strict) {
        return new TextEncoderOptions(device, dtype, arithmetic, strict);
    }

    /** The same settings as {@link WeightBinder} options. */
    public WeightBinder.Options binderOptions() {
        return new WeightBinder.Options(device, dtype, arithmetic, strict);
    }
}
