package io.github.flux4j.pipeline.offload;

/** Where a pipeline component's weights live, decided by a {@link MemoryPlan}. */
public enum Placement {
    /** On the execution device for the pipeline's lifetime. */
    RESIDENT,
    /**
     * On the CPU between uses, moved to the execution device for its stage (model offloading,
     * diffusers' {@code enable_model_cpu_offload()}).
     */
    OFFLOADED,
    /** On the CPU, and run there: its output is moved to the device (T5 when it does not fit). */
    HOST,
    /**
     * T5 only: on the CPU between uses; for its stage, its token embedding and final norm move to
     * the device and its blocks stream to it one at a time ({@link io.github.flux4j.core.offload.BlockStreamer})
     * through two arenas the size of its largest block, freed after the stage. Same arithmetic as
     * on the device, so the same embeddings as {@link #RESIDENT}, in about 1.5 GiB for T5-XXL.
     */
    STREAMED
}
