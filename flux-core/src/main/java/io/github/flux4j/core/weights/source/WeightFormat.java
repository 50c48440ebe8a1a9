package io.github.flux4j.core.weights.source;

/** The forms model weights are published in: the FLUX transformer's three, and the text encoders' transformers layout. */
public enum WeightFormat {
    /** A GGUF file with BFL tensor names (city96 / stable-diffusion.cpp conversions), quantized or not. */
    GGUF,
    /** A single safetensors file with BFL names, such as {@code flux1-dev.safetensors}; names may carry a {@code model.diffusion_model.} prefix. */
    BFL_SAFETENSORS,
    /** A diffusers {@code transformer} folder: {@code config.json} plus one or more {@code diffusion_pytorch_model*.safetensors}. */
    DIFFUSERS,
    /** A Hugging Face transformers model ({@code model.safetensors} or sharded with {@code model.safetensors.index.json}), names as stored: the text encoders. */
    TRANSFORMERS
}
