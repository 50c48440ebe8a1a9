package io.github.flux4j.spark;

import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.pipeline.FluxPipeline;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipelines of this JVM (an executor, or the driver in local mode): at most one per device,
 * loaded on first use and kept for every later task, so a model is read once per executor GPU,
 * not once per task. Tasks on the same device take turns (a pipeline generates one batch at a
 * time); a task asking for another model on a device replaces that device's pipeline.
 */
final class ExecutorPipelines {
    private static final Logger LOG = LoggerFactory.getLogger(ExecutorPipelines.class);
    private static final List<String> NATIVE_MEMORY_PROPERTIES =
            List.of("org.bytedeco.javacpp.maxPhysicalBytes", "org.bytedeco.javacpp.maxBytes");
    private static final Map<String, Slot> SLOTS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    /** Work done with a pipeline. */
    @FunctionalInterface
    interface Work<T> {
        T run(FluxPipeline pipeline) throws IOException;
    }

    /** A pipeline could not be loaded or has no device: the executor's problem, not the request's. */
    static final class LoadException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        LoadException(String message, @Nullable Throwable cause) {
            super(message, cause);
        }
    }

    private static final class Slot {
        private @Nullable ModelSpec spec;
        private @Nullable FluxPipeline pipeline;
    }

    private ExecutorPipelines() {}

    /**
     * JavaCPP's native-memory caps off (LibTorch's memory is far above its default of 4x the heap),
     * unless set on the command line. Must run before JavaCPP's first use in this JVM.
     */
    static void configureNativeMemory() {
        for (String key : NATIVE_MEMORY_PROPERTIES) {
            if (System.getProperty(key) == null) {
                System.setProperty(key, "0");
            }
        }
    }

    /**
     * Runs {@code work} with the pipeline of {@code spec} on {@code device}, loading it if this JVM
     * has none yet (or another model on that device), holding the device for the duration.
     *
     * @param loadMillis told how long a load took, if one happened
     * @throws LoadException if the pipeline cannot be loaded
     */
    static <T> T with(
            ModelSpec spec,
            FluxDevice device,
            @Nullable Integer cpuThreads,
            java.util.function.LongConsumer loadMillis,
            Work<T> work)
            throws IOException {
        Slot slot = SLOTS.computeIfAbsent(device.toString(), k -> new Slot());
        synchronized (slot) {
            if (slot.pipeline == null || !spec.equals(slot.spec)) {
                if (slot.pipeline != null) {
                    LOG.info("{}: another model was asked for; closing {}", device, slot.pipeline);
                    slot.pipeline.close();
                    slot.pipeline = null;
                    slot.spec = null;
                }
                long t0 = System.nanoTime();
                try {
                    if (!device.isCuda() && cpuThreads != null) {
                        Torch.setIntraOpThreads(cpuThreads);
                    }
                    slot.pipeline = spec.load(device);
                } catch (RuntimeException e) {
                    throw new LoadException(
                            "cannot load the FLUX pipeline on " + device + " (transformer " + spec.transformer()
                                    + ", base model " + spec.baseModel() + "): " + e,
                            e);
                }
                slot.spec = spec;
                LOADS.incrementAndGet();
                long ms = (System.nanoTime() - t0) / 1_000_000;
                loadMillis.accept(ms);
                LOG.info("{}: loaded {} in {} ms", device, slot.pipeline, ms);
            }
            return work.run(slot.pipeline);
        }
    }

    /** How many pipelines this JVM has loaded so far. */
    static int loads() {
        return LOADS.get();
    }

    /** Closes every pipeline of this JVM (tests; an executor's pipelines live as long as it does). */
    static void closeAll() {
        List<Slot> slots = new ArrayList<>(SLOTS.values());
        for (Slot slot : slots) {
            synchronized (slot) {
                if (slot.pipeline != null) {
                    slot.pipeline.close();
                    slot.pipeline = null;
                    slot.spec = null;
                }
            }
        }
    }
}
