/**
 * FLUX.1 text to image: {@link io.github.flux4j.pipeline.FluxPipeline} and its options, results,
 * progress and cancellation, model folders and Hugging Face Hub downloads, and the flow-matching
 * scheduler. The latents and offload packages are exported too: a result's seed is a
 * {@link io.github.flux4j.pipeline.latents.NoiseSeed} and {@code FluxPipeline.memoryPlan()} a
 * {@link io.github.flux4j.pipeline.offload.MemoryPlan}. The denoising loop ({@code sampling}) is not.
 * The model and scheduler packages are open to Jackson's databind, which binds their configuration
 * records.
 */
module io.github.flux4j.pipeline {
    // FluxDevice, ComputeDtype, RgbImage, LoadOptions and FluxException appear in the API.
    requires transitive io.github.flux4j.core;
    requires transitive io.github.flux4j.tokenizers;
    requires com.fasterxml.jackson.databind;
    requires java.net.http;
    requires org.slf4j;
    requires static transitive org.jspecify;

    exports io.github.flux4j.pipeline;
    exports io.github.flux4j.pipeline.hub;
    exports io.github.flux4j.pipeline.model;
    exports io.github.flux4j.pipeline.scheduler;
    exports io.github.flux4j.pipeline.latents;
    exports io.github.flux4j.pipeline.offload;

    // ModelIndex and FlowMatchEulerSchedulerConfig are bound by core.json.ConfigReader: Jackson
    // calls their private @JsonCreator factories.
    opens io.github.flux4j.pipeline.model to
            com.fasterxml.jackson.databind;
    opens io.github.flux4j.pipeline.scheduler to
            com.fasterxml.jackson.databind;
}
