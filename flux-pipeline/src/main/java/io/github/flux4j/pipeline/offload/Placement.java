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
    HOST
}
