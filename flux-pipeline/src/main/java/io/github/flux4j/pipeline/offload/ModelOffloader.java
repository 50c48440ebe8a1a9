package io.github.flux4j.pipeline.offload;

import io.github.flux4j.core.torch.DeviceMovable;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.NativeMemory;
import io.github.flux4j.core.torch.Torch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * diffusers' {@code enable_model_cpu_offload()} for flux4j models: the registered models live on
 * the CPU, and {@link #use} moves one to the execution device just before it runs, after moving
 * the previous one back (accelerate's {@code CpuOffload} hook chain, which also empties the CUDA
 * cache after each eviction). {@link #offloadAll()} is {@code maybe_free_model_hooks()}: all back
 * to the CPU after a generation.
 *
 * <p>Moves are in place ({@link DeviceMovable#moveTo(FluxDevice, boolean)}) and keep each
 * model's CPU copy while it is on the device, so moving out copies nothing. When offloading is
 * off, models are moved to the execution device once, when registered, and never again.
 *
 * <p>Not thread-safe: one generation at a time (the pipeline serialises them).
 */
public final class ModelOffloader {
    private static final Logger LOG = LoggerFactory.getLogger(ModelOffloader.class);
    /**
     * Whether offloaded models' host weights are page-locked ({@code -Dflux4j.offload.pinHostMemory=false}
     * keeps them pageable: slower moves, for hosts where locking that much RAM hurts other work).
     */
    private static final boolean PIN_HOST =
            !"false".equalsIgnoreCase(System.getProperty("flux4j.offload.pinHostMemory", "true"));

    private final FluxDevice device;
    private final boolean enabled;
    private final List<Named> models = new ArrayList<>();
    private @Nullable DeviceMovable onDevice;
    private long moveNanos;

    private record Named(String name, DeviceMovable model, Placement placement) {}

    /**
     * @param device  the execution device, where models run
     * @param enabled true for model offloading; false keeps every model on {@code device}
     */
    public ModelOffloader(FluxDevice device, boolean enabled) {
        this.device = Objects.requireNonNull(device, "device");
        this.enabled = enabled;
    }

    /** The execution device. */
    public FluxDevice device() {
        return device;
    }

    /** Whether models are offloaded between uses. */
    public boolean enabled() {
        return enabled;
    }

    /**
     * Registers a model: with offloading it is moved to the CPU now (where it lives from then on),
     * without it to the execution device.
     *
     * @param name for log messages ("text_encoder", "transformer", ...)
     * @throws IllegalArgumentException if the model is registered already
     */
    public void register(String name, DeviceMovable model) {
        register(name, model, enabled ? Placement.OFFLOADED : Placement.RESIDENT);
    }

    /**
     * Registers a model with its own placement (a {@link MemoryPlan}'s): {@link Placement#RESIDENT}
     * moves it to the execution device now, for good; {@link Placement#OFFLOADED} (only when this
     * offloader is enabled) to the CPU, from where {@link #use} brings it in; {@link Placement#HOST}
     * to the CPU, where it stays and runs.
     *
     * @throws IllegalArgumentException if the model is registered already, or OFFLOADED is asked
     *                                  of an offloader that is not enabled
     */
    public void register(String name, DeviceMovable model, Placement placement) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(placement, "placement");
        boolean movesIn = movesIn(placement);
        if (movesIn && !enabled) {
            throw new IllegalArgumentException(name + " cannot be offloaded: this offloader is not enabled");
        }
        for (Named n : models) {
            if (n.model() == model) {
                throw new IllegalArgumentException(name + " is registered already (as " + n.name() + ")");
            }
        }
        models.add(new Named(name, model, placement));
        move(name, model, placement == Placement.RESIDENT ? device : FluxDevice.cpu(), movesIn);
        if (movesIn && device.isCuda() && PIN_HOST) {
            pin(name, model);
        }
    }

    /**
     * Page-locks an offloaded model's host weights: each move to the GPU is then a DMA at the
     * bus's speed (about 5x faster than from pageable memory, which the driver stages through a
     * small pinned buffer). Where the driver refuses (too little RAM to lock), the weights not yet
     * locked stay in pageable memory and only their moves are slower.
     */
    private static void pin(String name, DeviceMovable model) {
        long t0 = System.nanoTime();
        try {
            long bytes = model.pinHostMemory();
            if (bytes > 0) {
                // the process's resident set after each model: where host RAM goes while pinning
                LOG.info(
                        "{}: {} MiB of weights in page-locked host memory ({} ms); host RSS now {} MiB",
                        name,
                        bytes >> 20,
                        (System.nanoTime() - t0) / 1_000_000,
                        NativeMemory.rssBytes() >> 20);
            }
        } catch (IllegalStateException e) {
            LOG.warn(
                    "{}: weights not yet page-locked stay in pageable host memory, their moves to the GPU are slower: {}",
                    name,
                    e.getMessage());
        }
    }

    /**
     * Makes {@code model} ready to run: with offloading, the model on the device (if another) goes
     * back to the CPU and the CUDA cache is emptied, then {@code model} moves to the device. Without
     * offloading, nothing happens.
     *
     * @throws IllegalArgumentException if the model was not registered
     */
    public void use(DeviceMovable model) {
        Named n = named(model);
        if (!enabled || onDevice == model) {
            return;
        }
        // Whatever the model's placement, the offloaded one on the device leaves: a resident or
        // host model's stage must not pay for the previous stage's model.
        evict();
        // a STREAMED model moves in like an offloaded one: its streamed blocks' tensors point at
        // empty placeholders then, so only its other weights travel
        if (movesIn(n.placement())) {
            move(n.name(), model, device, true);
            onDevice = model;
        }
    }

    /**
     * Whether a model of this placement lives on the CPU and moves to the device for its stage
     * (a STREAMED model's unstreamed weights do).
     */
    private static boolean movesIn(Placement placement) {
        return placement == Placement.OFFLOADED || placement == Placement.STREAMED;
    }

    /** The placement {@code model} was registered with. */
    public Placement placementOf(DeviceMovable model) {
        return named(model).placement();
    }

    /**
     * With offloading, moves the model on the device (if any) back to the CPU and empties the
     * CUDA cache; otherwise nothing. Safe to call at any time, e.g. in a {@code finally} block
     * after a failed or cancelled generation.
     */
    public void offloadAll() {
        if (enabled) {
            evict();
        }
    }

    /** Total time spent moving models so far. */
    public Duration moveTime() {
        return Duration.ofNanos(moveNanos);
    }

    private void evict() {
        DeviceMovable current = onDevice;
        if (current == null) {
            return;
        }
        onDevice = null;
        move(nameOf(current), current, FluxDevice.cpu(), true);
        if (device.isCuda()) {
            long t0 = System.nanoTime();
            Torch.emptyCudaCache();
            moveNanos += System.nanoTime() - t0;
        }
    }

    private void move(String name, DeviceMovable model, FluxDevice target, boolean keepHostCopy) {
        if (model.device().equals(target)) {
            return;
        }
        long t0 = System.nanoTime();
        // keepHostCopy: the CPU storage survives while the model is on the device, so that
        // evicting it is a pointer swap and not a 10 GB copy.
        model.moveTo(target, keepHostCopy);
        long dt = System.nanoTime() - t0;
        moveNanos += dt;
        LOG.debug("{} moved to {} in {} ms", name, target, dt / 1_000_000);
    }

    private String nameOf(DeviceMovable model) {
        return named(model).name();
    }

    private Named named(DeviceMovable model) {
        for (Named n : models) {
            if (n.model() == model) {
                return n;
            }
        }
        throw new IllegalArgumentException("model " + model + " is not registered with this offloader");
    }
}
