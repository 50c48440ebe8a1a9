package io.github.flux4j.pipeline.model;

import java.util.List;

/**
 * The components of a FLUX.1 pipeline folder: the subfolder names and the
 * {@code [library, class]} pairs {@code model_index.json} gives them in the official repositories.
 */
public enum FluxComponent {
    /** The FLUX transformer ({@code FluxTransformer2DModel}); optional here, since a GGUF file can replace it. */
    TRANSFORMER("transformer", "diffusers", List.of("FluxTransformer2DModel")),
    /** CLIP ViT-L/14's text tower ({@code CLIPTextModel}): the pooled prompt embedding. */
    TEXT_ENCODER("text_encoder", "transformers", List.of("CLIPTextModel")),
    /** T5 v1.1 XXL's encoder ({@code T5EncoderModel}): the per-token prompt embeddings. */
    TEXT_ENCODER_2("text_encoder_2", "transformers", List.of("T5EncoderModel")),
    /** The 16-channel VAE ({@code AutoencoderKL}). */
    VAE("vae", "diffusers", List.of("AutoencoderKL")),
    /** The scheduler configuration ({@code FlowMatchEulerDiscreteScheduler}). */
    SCHEDULER("scheduler", "diffusers", List.of("FlowMatchEulerDiscreteScheduler")),
    /** CLIP's byte-level BPE tokenizer. */
    TOKENIZER("tokenizer", "transformers", List.of("CLIPTokenizer", "CLIPTokenizerFast")),
    /** T5's SentencePiece tokenizer. */
    TOKENIZER_2("tokenizer_2", "transformers", List.of("T5TokenizerFast", "T5Tokenizer"));

    private final String folder;
    private final String library;
    private final List<String> classNames;

    FluxComponent(String folder, String library, List<String> classNames) {
        this.folder = folder;
        this.library = library;
        this.classNames = classNames;
    }

    /** The subfolder name, which is also the key in {@code model_index.json}. */
    public String folder() {
        return folder;
    }

    /** The library {@code model_index.json} names ({@code diffusers} or {@code transformers}). */
    public String library() {
        return library;
    }

    /** The classes accepted in {@code model_index.json}, the official one first. */
    public List<String> classNames() {
        return classNames;
    }

    /** Whether a FLUX pipeline needs this component from the folder ({@link #TRANSFORMER} may come from a GGUF file). */
    public boolean requiredInFolder() {
        return this != TRANSFORMER;
    }
}
