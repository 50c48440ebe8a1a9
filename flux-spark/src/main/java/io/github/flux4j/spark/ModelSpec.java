package io.github.flux4j.spark;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.pipeline.Offload;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What the executors load: the model files and how to run them. Paths are local paths that
 * every executor can read (a shared mount, or the same files on every node); the base model may
 * also be a Hugging Face repository id in each executor's local cache ({@code HF_HOME}).
 *
 * @param transformer the transformer: a GGUF file, BFL safetensors or a diffusers folder
 * @param baseModel   the base model folder, or a repository id ({@code black-forest-labs/FLUX.1-dev})
 * @param t5Gguf      a T5 encoder GGUF instead of the base model's, or null
 * @param dtype       the compute dtype, or null for bfloat16 on GPUs and float32 on CPUs
 * @param offload     model offloading on the GPU
 * @param devices     which device a task uses
 */
public record ModelSpec(
        String transformer,
        String baseModel,
        @Nullable String t5Gguf,
        @Nullable ComputeDtype dtype,
        Offload offload,
        DevicePolicy devices)
        implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Checks the required fields. */
    public ModelSpec {
        Objects.requireNonNull(transformer, "transformer");
        Objects.requireNonNull(baseModel, "baseModel");
        Objects.requireNonNull(offload, "offload");
        Objects.requireNonNull(devices, "devices");
        if (transformer.isBlank()) {
            throw new IllegalArgumentException("transformer: empty path");
        }
        if (baseModel.isBlank()) {
            throw new IllegalArgumentException("baseModel: empty");
        }
    }

    /** A spec with the default dtype, no offloading and {@link DevicePolicy#AUTO}. */
    public static ModelSpec of(String transformer, String baseModel) {
        return new ModelSpec(transformer, baseModel, null, null, Offload.NONE, DevicePolicy.AUTO);
    }

    /** This spec with another T5 GGUF (null: the base model's). */
    public ModelSpec withT5Gguf(@Nullable String file) {
        return new ModelSpec(transformer, baseModel, file, dtype, offload, devices);
    }

    /** This spec with another compute dtype (null: by device). */
    public ModelSpec withDtype(@Nullable ComputeDtype d) {
        return new ModelSpec(transformer, baseModel, t5Gguf, d, offload, devices);
    }

    /** This spec with another offloading mode. */
    public ModelSpec withOffload(Offload o) {
        return new ModelSpec(transformer, baseModel, t5Gguf, dtype, o, devices);
    }

    /** This spec with another device policy. */
    public ModelSpec withDevices(DevicePolicy d) {
        return new ModelSpec(transformer, baseModel, t5Gguf, dtype, offload, d);
    }

    /** The dtype used on {@code device}: the one set, else bfloat16 on CUDA and float32 on the CPU. */
    public ComputeDtype dtypeOn(FluxDevice device) {
        return dtype != null ? dtype : device.isCuda() ? ComputeDtype.BF16 : ComputeDtype.F32;
    }

    /**
     * Loads the pipeline on {@code device}.
     *
     * @throws io.github.flux4j.FluxIoException if a model file cannot be read
     * @see FluxPipeline.Builder#build()
     */
    public FluxPipeline load(FluxDevice device) {
        FluxPipeline.Builder b = FluxPipeline.builder()
                .transformer(Path.of(transformer))
                .baseModel(baseModel)
                .device(device)
                .computeDtype(dtypeOn(device))
                .offload(offload);
        if (t5Gguf != null) {
            b.t5Gguf(Path.of(t5Gguf));
        }
        return b.build();
    }

    /** What shapes the images' bytes, for {@link io.github.flux4j.spark.output.CompletionMarker#fingerprint()}. */
    String identity(FluxDevice device) {
        return "transformer=" + transformer + "|base=" + baseModel + "|t5=" + t5Gguf + "|dtype=" + dtypeOn(device)
                + "|device=" + (device.isCuda() ? "cuda" : "cpu");
    }
}
