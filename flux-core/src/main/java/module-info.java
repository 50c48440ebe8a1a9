/**
 * The FLUX networks on LibTorch: the MMDiT transformer, the T5 and CLIP text encoders and the VAE,
 * built from GGUF or safetensors weights, and the LibTorch bridge they share
 * ({@code io.github.flux4j.core.torch}: devices, compute dtypes, tensors from and to Java arrays).
 *
 * <p>Not API: the weight binding ({@code core.weights.binding}: the models' load path), not
 * exported, and the networks' building blocks ({@code core.nn}), block streaming
 * ({@code core.offload}), the CUDA kernels ({@code core.cuda}) and the JSON configuration reader
 * ({@code core.json}), exported only to the flux4j modules that use them. The packages whose
 * configuration records Jackson binds (through private {@code @JsonCreator} factories) are open to
 * Jackson's databind, and to nothing else.
 */
// "module not found": the qualified exports name modules built after this one.
@SuppressWarnings("module")
module io.github.flux4j.core {
    // API types extend or return these: FluxException, GgmlType; Tensor, Device, ScalarType; PointerScope.
    requires transitive io.github.flux4j.gguf;
    requires transitive org.bytedeco.pytorch;
    requires transitive org.bytedeco.javacpp;
    // RgbImage.toBufferedImage().
    requires transitive java.desktop;
    requires org.bytedeco.openblas;
    requires org.bytedeco.cuda;
    requires com.fasterxml.jackson.databind;
    requires org.slf4j;
    requires static transitive org.jspecify;

    // API.
    exports io.github.flux4j.core.torch;
    exports io.github.flux4j.core.transformer;
    exports io.github.flux4j.core.clip;
    exports io.github.flux4j.core.t5;
    exports io.github.flux4j.core.vae;
    exports io.github.flux4j.core.text;
    // LoadOptions, LoadedModel (the models' base), WeightBindingException. The binding machinery
    // (ModelLoader, WeightBinder, WeightPath, LoadedWeights) is core.weights.binding, not exported.
    exports io.github.flux4j.core.weights;
    // The file formats: WeightSource, WeightInfo, SafetensorsFile/Writer, WeightException.
    exports io.github.flux4j.core.weights.source;
    // DequantArithmetic (a load option); TorchDequantizer.
    exports io.github.flux4j.core.quant;
    // CudaCheck.run() and the natives checks (docs/gpu-setup.md), the CLI's doctor command.
    exports io.github.flux4j.core.doctor;

    // Internals that sibling modules use.
    exports io.github.flux4j.core.cuda to
            io.github.flux4j.examples,
            io.github.flux4j.pipeline;
    // Functional's GEMM forms (OpBenchmark times the ones the blocks run).
    exports io.github.flux4j.core.nn to
            io.github.flux4j.examples;
    exports io.github.flux4j.core.json to
            io.github.flux4j.pipeline;
    exports io.github.flux4j.core.offload to
            io.github.flux4j.pipeline;

    // Configuration records bound by core.json.ConfigReader: Jackson calls their private factories.
    opens io.github.flux4j.core.clip to
            com.fasterxml.jackson.databind;
    opens io.github.flux4j.core.t5 to
            com.fasterxml.jackson.databind;
    opens io.github.flux4j.core.vae to
            com.fasterxml.jackson.databind;
    opens io.github.flux4j.core.transformer to
            com.fasterxml.jackson.databind;
}
