package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import java.util.Objects;

/**
 * How to load a VAE decoder.
 *
 * @param device where the weights live and decoding runs
 * @param dtype  the compute dtype of weights and activations: BF16 is what diffusers' FluxPipeline
 *               runs its VAE in (and matches it); F32 for references and tests
 * @param strict whether decoder tensors the model does not use are an error (default); when false
 *               they are logged and listed in {@link VaeDecoder#leftovers()}. Encoder tensors are
 *               never counted: they are dropped when the file is opened
 */
public record VaeOptions(FluxDevice device, ComputeDtype dtype, boolean strict) {

    /** Checks for nulls. */
    public VaeOptions {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(dtype, "dtype");
    }

    /** CPU, BF16, strict. */
    public static VaeOptions defaults() {
        return new VaeOptions(FluxDevice.cpu(), ComputeDtype.BF16, true);
    }

    /** These options on another device. */
    public VaeOptions withDevice(FluxDevice device) {
        return new VaeOptions(device, dtype, strict);
    }

    /** These options with another compute dtype. */
    public VaeOptions withDtype(ComputeDtype dtype) {
        return new VaeOptions(device, dtype, strict);
    }

    /** These options with strictness set. */
    public VaeOptions withStrict(boolean strict) {
        return new VaeOptions(device, dtype, strict);
    }
}
