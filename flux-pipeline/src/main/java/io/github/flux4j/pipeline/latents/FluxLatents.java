package io.github.flux4j.pipeline.latents;

import io.github.flux4j.core.torch.Scopes;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * FluxPipeline's latent preparation, bit for bit: {@code prepare_latents}, {@code _pack_latents},
 * {@code _unpack_latents}, {@code _prepare_latent_image_ids} and the text ids.
 *
 * <pre>{@code
 * LatentGeometry g = LatentGeometry.of(1024, 1024);
 * try (PreparedLatents p = FluxLatents.prepare(g, 1, ScalarType.BFloat16, cuda, NoiseSeed.of(42))) {
 *     Tensor latents = p.latents();   // [1, 4096, 64] bfloat16 on cuda
 *     Tensor imgIds = p.imageIds();   // [4096, 3]
 * }
 * }</pre>
 *
 * <h2>Noise</h2>
 * diffusers' {@code randn_tensor} with a CPU generator draws {@code torch.randn(shape,
 * generator=g, dtype=dtype)} on the CPU, in the pipeline dtype and in the <em>unpacked</em> shape
 * {@code [B, 16, h, w]}, then moves it to the device and packs it. The same call on LibTorch's CPU
 * generator ({@code make_generator_cpu(seed)}, mt19937 like Python's) gives the same numbers; a
 * draw in the packed shape would not. For bfloat16 and float16 the numbers depend on the PyTorch
 * version being matched: see {@link NoiseDraw}. One seed or one seed per image: see
 * {@link NoiseSeed}.
 *
 * <p>Every method returns tensors that belong to the enclosing
 * {@link org.bytedeco.javacpp.PointerScope}, or to the caller if there is none; temporaries are
 * freed before returning.
 */
public final class FluxLatents {
    /** Latent channels of FLUX.1: the transformer's {@code in_channels} (64) divided by 4. */
    public static final int FLUX_LATENT_CHANNELS = 16;

    private FluxLatents() {}

    /**
     * {@code prepare_latents}: noise for {@code batch} images ({@code batch_size *
     * num_images_per_prompt}), packed and moved to {@code device}, with the image ids.
     *
     * @param dtype the pipeline dtype (the text encoders' dtype in diffusers), which the noise is
     *              drawn in
     * @throws IllegalArgumentException if {@code batch < 1}, {@code dtype} is not floating point,
     *                                  or per-image seeds do not number {@code batch}
     */
    public static PreparedLatents prepare(
            LatentGeometry geometry, int batch, ScalarType dtype, Device device, NoiseSeed seed) {
        return prepared(geometry, dtype, device, () -> noise(geometry, batch, FLUX_LATENT_CHANNELS, dtype, seed));
    }

    /**
     * {@code prepare_latents} with latents the caller supplies (already packed): they are moved to
     * {@code device} and {@code dtype} unchanged otherwise, as diffusers does.
     *
     * @throws IllegalArgumentException if {@code latents} is not {@code [B, imageSeqLen, 64]}
     */
    public static PreparedLatents prepareFrom(
            LatentGeometry geometry, Tensor latents, ScalarType dtype, Device device) {
        long[] shape = shapeOf(latents);
        if (shape.length != 3 || shape[1] != geometry.imageSeqLen() || shape[2] != 4L * FLUX_LATENT_CHANNELS) {
            throw new IllegalArgumentException("latents must be packed, [B, " + geometry.imageSeqLen() + ", "
                    + 4 * FLUX_LATENT_CHANNELS + "] for " + geometry.requestedHeight() + "x"
                    + geometry.requestedWidth() + " pixels, got " + Arrays.toString(shape));
        }
        return prepared(geometry, dtype, device, () -> latents);
    }

    private static PreparedLatents prepared(
            LatentGeometry geometry, ScalarType dtype, Device device, Supplier<Tensor> latents) {
        requireFloating(dtype);
        Tensor packed = Scopes.scoped(() -> {
            Tensor l = latents.get();
            long[] s = shapeOf(l);
            Tensor p = s.length == 4 ? pack(l) : l;
            return p.to(device, dtype);
        });
        Tensor ids = imageIds(geometry, dtype, device);
        return new PreparedLatents(packed, ids);
    }

    /**
     * The initial noise, {@code randn_tensor((batch, channels, h, w), generator, dtype=dtype)} with
     * CPU generators: on the CPU, unpacked.
     *
     * @throws IllegalArgumentException if {@code batch} or {@code channels} is below 1,
     *                                  {@code dtype} is not floating point, or per-image seeds do
     *                                  not number {@code batch} (diffusers' message for a list of
     *                                  generators of the wrong length)
     */
    public static Tensor noise(LatentGeometry geometry, int batch, int channels, ScalarType dtype, NoiseSeed seed) {
        requireBatch(batch);
        if (channels < 1) {
            throw new IllegalArgumentException("channels must be at least 1, got " + channels);
        }
        requireFloating(dtype);
        Objects.requireNonNull(seed, "seed");
        long[] seeds = seed.seeds();
        if (seed.separateGenerators() && seeds.length != batch) {
            throw new IllegalArgumentException("You have passed " + seeds.length + " seeds (a list of generators),"
                    + " but requested an effective batch size of " + batch
                    + ". Make sure the batch size matches the number of seeds.");
        }
        if (seeds.length == 1) {
            // randn_tensor unwraps a list of one generator; the draw is the same either way.
            return Scopes.scoped(() -> draw(geometry.latentShape(batch, channels), dtype, seeds[0], seed.draw()));
        }
        long[] one = geometry.latentShape(1, channels);
        return Scopes.scoped(() -> {
            TensorVector parts = new TensorVector();
            for (long s : seeds) {
                parts.push_back(draw(one, dtype, s, seed.draw()));
            }
            return torch.cat(parts, 0);
        });
    }

    private static Tensor draw(long[] shape, ScalarType dtype, long seed, NoiseDraw mode) {
        ScalarType d = dtype.intern();
        boolean reduced = d == ScalarType.BFloat16 || d == ScalarType.Half;
        ScalarType drawType = reduced && mode == NoiseDraw.FLOAT32_ROUNDED ? ScalarType.Float : d;
        Generator g = torch.make_generator_cpu(seed);
        TensorOptions cpu = new TensorOptions(drawType).device(new DeviceOptional(new Device(DeviceType.CPU)));
        Tensor r = torch.randn(shape, new GeneratorOptional(g), cpu);
        return drawType == d ? r : r.to(d);
    }

    /**
     * {@code _pack_latents}: {@code [B, C, H, W]} to {@code [B, (H/2)(W/2), 4C]}. Token
     * {@code r * (W/2) + c} holds feature {@code ch * 4 + dy * 2 + dx} =
     * {@code latents[b, ch, 2r + dy, 2c + dx]}. Pure data movement (no rounding).
     *
     * @throws IllegalArgumentException if {@code latents} is not 4-D with even height and width
     */
    public static Tensor pack(Tensor latents) {
        long[] s = shapeOf(latents);
        if (s.length != 4 || s[2] % 2 != 0 || s[3] % 2 != 0) {
            throw new IllegalArgumentException(
                    "latents to pack must be [B, C, H, W] with even H and W, got " + Arrays.toString(s));
        }
        long b = s[0];
        long c = s[1];
        long h = s[2];
        long w = s[3];
        return Scopes.scoped(() ->
                latents.view(b, c, h / 2, 2, w / 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h / 2) * (w / 2), c * 4));
    }

    /**
     * {@code _unpack_latents}: packed {@code [B, tokens, 4C]} back to {@code [B, C, h, w]} with the
     * latent size of {@code geometry} (diffusers recomputes it from the pixel size, rounding down).
     *
     * @throws IllegalArgumentException if {@code packed} is not 3-D, its token count is not
     *                                  {@code geometry.imageSeqLen()} or its channels are not a
     *                                  multiple of 4
     */
    public static Tensor unpack(Tensor packed, LatentGeometry geometry) {
        long[] s = shapeOf(packed);
        if (s.length != 3 || s[1] != geometry.imageSeqLen() || s[2] % 4 != 0) {
            throw new IllegalArgumentException("packed latents must be [B, " + geometry.imageSeqLen()
                    + ", 4C] for a " + geometry.latentHeight() + "x" + geometry.latentWidth() + " latent, got "
                    + Arrays.toString(s));
        }
        long b = s[0];
        long c = s[2];
        long h = geometry.latentHeight();
        long w = geometry.latentWidth();
        return Scopes.scoped(() -> packed.view(b, h / 2, w / 2, c / 4, 2, 2)
                .permute(0, 3, 1, 4, 2, 5)
                .reshape(b, c / 4, h, w));
    }

    /**
     * {@code _prepare_latent_image_ids}: {@code [imageSeqLen, 3]}, token {@code r * (w/2) + c}
     * holding {@code (0, r, c)}; built in float32 and cast to {@code dtype} (integers above 256
     * round in bfloat16, as in diffusers).
     */
    public static Tensor imageIds(LatentGeometry geometry, ScalarType dtype, Device device) {
        int rows = geometry.packedHeight();
        int cols = geometry.packedWidth();
        float[] ids = new float[rows * cols * 3];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int t = (r * cols + c) * 3;
                ids[t + 1] = r;
                ids[t + 2] = c;
            }
        }
        return Scopes.scoped(() -> Tensor.create(ids, (long) rows * cols, 3).to(device, dtype));
    }

    /**
     * The text ids: {@code torch.zeros(seqLen, 3)} in {@code dtype} on {@code device} (the text
     * encoders' dtype in diffusers).
     *
     * @throws IllegalArgumentException if {@code seqLen < 1}
     */
    public static Tensor textIds(int seqLen, ScalarType dtype, Device device) {
        if (seqLen < 1) {
            throw new IllegalArgumentException("seqLen must be at least 1, got " + seqLen);
        }
        return Scopes.scoped(
                () -> torch.zeros(new long[] {seqLen, 3}, new TensorOptions(dtype).device(new DeviceOptional(device))));
    }

    /** The shape, without leaving the size wrappers to an enclosing scope. */
    @SuppressWarnings("try") // the scope is used for its side effect: collecting the wrappers
    private static long[] shapeOf(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            return t.sizes().vec().get();
        }
    }

    private static void requireBatch(int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
    }

    private static void requireFloating(ScalarType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        switch (dtype.intern()) {
            case Float, Double, Half, BFloat16 -> {}
            default ->
                throw new IllegalArgumentException(
                        "the latent dtype must be floating point (Float, Double," + " Half or BFloat16), got " + dtype);
        }
    }
}
