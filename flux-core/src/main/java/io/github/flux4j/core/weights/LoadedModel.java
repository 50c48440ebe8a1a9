package io.github.flux4j.core.weights;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.DeviceMovable;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.weights.binding.LoadedWeights;
import io.github.flux4j.core.weights.binding.WeightBinder;
import io.github.flux4j.core.weights.binding.WeightPath;
import io.github.flux4j.core.weights.source.WeightInfo;
import java.util.List;
import java.util.Objects;

/**
 * What the four models (transformer, CLIP, T5, VAE) have in common: the native weights they own,
 * the device those live on, the compute dtype, moving between devices and closing.
 *
 * <p>A model is built by its own {@code load} methods only: its constructor is the factory of a
 * weight binding (the not exported {@code core.weights.binding}), and this constructor takes the
 * weights, device and dtype from the binding running it, so no binding type shows in the API. The
 * constructor runs twice, once for the binding's check and once for the load; the check run's
 * model is dropped unused, and only the load run's model owns (and closes) native weights.
 * Subclasses call {@link #checkOpen()} before using the weights.
 */
public abstract class LoadedModel implements DeviceMovable, AutoCloseable {
    private final String name;
    private final LoadedWeights weights;
    private volatile FluxDevice device; // changed only by moveTo
    private final ComputeDtype dtype;
    private volatile boolean closed;
    private long generation; // see weightsGeneration(); guarded by this

    /**
     * Takes ownership of the weights of the binding whose factory runs this constructor, and its
     * device and compute dtype.
     *
     * @param name the model's name in exception messages ({@code "VaeDecoder is closed"})
     * @throws IllegalStateException if no weight binding runs this constructor
     */
    protected LoadedModel(String name) {
        this.name = Objects.requireNonNull(name, "name");
        WeightPath root = WeightBinder.running(name);
        this.weights = root.weights();
        this.device = root.device();
        this.dtype = root.dtype();
    }

    /** Where the weights live and the model computes. */
    @Override
    public final FluxDevice device() {
        return device;
    }

    /** The compute dtype. */
    public final ComputeDtype dtype() {
        return dtype;
    }

    /** Tensors of the source this model did not use (empty when loaded strictly). */
    public final List<WeightInfo> leftovers() {
        return weights.leftovers();
    }

    /**
     * Bytes of weights read from the source, as stored: quantized bytes for quantized tensors,
     * before any dtype conversion.
     */
    public final long sourceBytes() {
        return weights.sourceBytes();
    }

    /**
     * Bytes the weights occupy in memory now, in their stored form on the device (packed bytes
     * for quantized weights, the compute dtype for the others); see {@code LoadedWeights.memoryBytes()}.
     */
    public final long memoryBytes() {
        return weights.memoryBytes();
    }

    /**
     * Moves every weight to {@code target} in place (see {@link DeviceMovable}); the model then
     * computes there. Quantized blocks move as bytes. Not while a forward runs.
     *
     * @throws IllegalStateException if the model is closed
     */
    @Override
    public final synchronized void moveTo(FluxDevice target, boolean keepHostCopy) {
        checkOpen();
        weights.moveTo(target, keepHostCopy);
        device = target;
        generation++;
        afterMove(target);
    }

    /**
     * A number that changes whenever the weights' memory may have changed (a {@link #moveTo}, a
     * {@link #pinHostMemory}, {@link #close}): whoever keeps device addresses of the weights (a
     * captured CUDA graph) compares it before using them.
     */
    public final synchronized long weightsGeneration() {
        return closed ? -1 : generation;
    }

    /**
     * Called at the end of {@link #moveTo}, the weights already on {@code target}: a model that
     * keeps device tensors of its own beside the weights (tables, caches) drops or moves them here.
     * Does nothing by default.
     */
    protected void afterMove(FluxDevice target) {}

    /**
     * Puts the weights on the CPU in page-locked memory ({@code LoadedWeights.pinHostMemory()}).
     *
     * @throws IllegalStateException if the model is closed, CUDA is unavailable or the driver
     *                               refuses the memory
     */
    @Override
    public final synchronized long pinHostMemory() {
        checkOpen();
        generation++;
        return weights.pinHostMemory();
    }

    /** Frees all weights. Idempotent; the model cannot be used afterwards. */
    @Override
    public void close() {
        closed = true;
        weights.close();
    }

    /**
     * Throws if the model is closed.
     *
     * @throws IllegalStateException {@code "<name> is closed"}
     */
    protected final void checkOpen() {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
    }
}
