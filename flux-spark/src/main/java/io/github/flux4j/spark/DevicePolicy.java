package io.github.flux4j.spark;

/** Which device a task's pipeline runs on. */
public enum DevicePolicy {
    /**
     * The GPU Spark assigned to the task ({@code TaskContext.resources().get("gpu")}); without one,
     * {@code cuda:0} when CUDA is usable (local mode on a GPU machine), else the CPU.
     */
    AUTO,
    /** The GPU Spark assigned to the task; a task without one fails (resource scheduling is not set up). */
    GPU,
    /** The CPU, even where GPUs are present. */
    CPU
}
