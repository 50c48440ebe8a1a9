package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.StageTimings;
import io.github.flux4j.core.torch.TensorSlot;
import io.github.flux4j.core.torch.TensorTrace;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.core.weights.LoadedModel;
import io.github.flux4j.core.weights.binding.ModelLoader;
import io.github.flux4j.core.weights.binding.WeightPath;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightFormat;
import io.github.flux4j.core.weights.source.WeightSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.jspecify.annotations.Nullable;

/**
 * The decoding half of FLUX's VAE (diffusers {@code AutoencoderKL}): latents to images.
 *
 * <pre>{@code
 * try (VaeDecoder vae = VaeDecoder.load(Path.of("FLUX.1-dev/vae"), LoadOptions.defaults().withDevice(FluxDevice.cuda(0)));
 *      PointerScope scope = new PointerScope()) {
 *     List<RgbImage> images = vae.decodeToImages(latents, false); // latents [1, 16, 128, 128] from the sampler
 *     ImageIO.write(images.get(0).toBufferedImage(), "png", new File("out.png"));
 * }
 * }</pre>
 *
 * <p>It computes what diffusers' FluxPipeline does after unpacking the latents, op for op:
 * {@code z = latents / scaling_factor + shift_factor} ({@link #unscale}), {@code vae.decode(z)}
 * ({@link #decode}, or {@link #decodeTiled} as with {@code vae.enable_tiling()}), and
 * {@code VaeImageProcessor.postprocess(output_type="pil")} ({@link VaeImageProcessor}). See
 * {@code docs/vae.md}.
 *
 * <p>Loads from a diffusers {@code vae/} folder (or the pipeline folder above it), whose
 * {@code config.json} gives the configuration, or from a single safetensors file with diffusers or
 * BFL ({@code ae.safetensors}) names, which is taken to be FLUX's VAE unless a configuration is
 * given. Encoder tensors are skipped. The model owns its weights and frees them in
 * {@link #close()}; each decode runs in its own {@link PointerScope}, frees every intermediate as
 * soon as it is used, and hands only its result to the caller's scope. Decoding concurrently from
 * several threads is safe.
 */
public final class VaeDecoder extends LoadedModel {
    /** diffusers' {@code AutoencoderKL.tile_overlap_factor}. */
    public static final double TILE_OVERLAP = 0.25;

    private final VaeConfig config;
    private final @Nullable Conv2d postQuantConv; // post_quant_conv [latent, latent, 1, 1] (not in FLUX)
    final Decoder decoder; // decoder.*

    private VaeDecoder(VaeConfig config, WeightPath w) {
        super("VaeDecoder");
        this.config = config;
        this.postQuantConv = config.usePostQuantConv()
                ? new Conv2d(w.at("post_quant_conv"), config.latentChannels(), config.latentChannels(), 1)
                : null;
        this.decoder = new Decoder(w.at("decoder"), config);
    }

    // ------------------------------------------------------------------------------ loading

    /** Opens {@link VaeWeightSource}s, whose names are already the decoder's. No GGUF file holds a VAE. */
    private static final ModelLoader<VaeConfig, VaeDecoder> LOADER = new ModelLoader<>(
            "a VAE decoder",
            List.of(),
            VaeWeightSource::open,
            s -> s,
            VaeDecoder::configOf,
            VaeDecoder::describe,
            VaeDecoder::new);

    /**
     * Loads a decoder: from a diffusers VAE folder ({@code .../vae} or the pipeline folder above it)
     * configured by its {@code config.json}, or from a safetensors file (diffusers or BFL names) as
     * FLUX's VAE ({@link VaeConfig#flux()}).
     *
     * @throws io.github.flux4j.FluxIoException if the files cannot be read
     * @throws WeightException if the folder is incomplete, {@code config.json} is invalid (naming the
     *                         field), or tensors are missing, mis-shaped or (strict) unexpected: a
     *                         {@link io.github.flux4j.core.weights.WeightBindingException} then lists all
     */
    public static VaeDecoder load(Path path, LoadOptions options) {
        return LOADER.load(path, options);
    }

    /**
     * Loads a decoder of a known configuration from a folder or file as {@link #load(Path, LoadOptions)}
     * does; a folder's {@code config.json} is not read.
     */
    public static VaeDecoder load(Path path, VaeConfig config, LoadOptions options) {
        return LOADER.load(path, config, options);
    }

    private static VaeConfig configOf(WeightSource source) {
        return source.config().isEmpty()
                ? VaeConfig.flux()
                : VaeConfig.fromJson(
                        source.config(),
                        source.path().resolve(VaeWeightSource.CONFIG).toString());
    }

    private static String describe(WeightSource source, VaeConfig config) {
        return "a VAE decoder (block_out_channels " + config.blockOutChannels() + ", latent_channels "
                + config.latentChannels() + ", "
                + (source.format() == WeightFormat.BFL_SAFETENSORS ? "BFL" : "diffusers")
                + " names)";
    }

    // ------------------------------------------------------------------------------ decoding

    /**
     * {@code latents / scaling_factor + shift_factor}, FluxPipeline's step before {@code vae.decode}:
     * two ops in the compute dtype (each rounds in bf16, as in the pipeline).
     *
     * @param latents unpacked latents {@code [B, latent_channels, h, w]}, any float dtype and device;
     *                moved to the model's device and cast to its dtype first
     * @return a new tensor on the model's device, in the caller's scope
     */
    public Tensor unscale(Tensor latents) {
        checkOpen();
        checkLatents(latents);
        return Scopes.scoped(() -> latents.to(device().toTorch(), dtype().scalarType())
                .div(new Scalar(config.scalingFactor()))
                .add(new Scalar(config.shiftFactor())));
    }

    /**
     * {@code AutoencoderKL.decode(z).sample} without tiling: {@code post_quant_conv} if the model has
     * one, then the decoder.
     *
     * @param z unscaled latents {@code [B, latent_channels, h, w]} (see {@link #unscale}), any float
     *          dtype and device (moved and cast like {@link #unscale}'s input)
     * @return the image {@code [B, out_channels, h * upscale, w * upscale]}, nominally in [-1, 1], in
     *         the compute dtype on the model's device, in the caller's scope
     */
    public Tensor decode(Tensor z) {
        return decode(z, TensorTrace.NONE);
    }

    /**
     * {@link #decode(Tensor)}, each stage's output given to {@code trace} as it is computed, named
     * as the diffusers {@code AutoencoderKL} modules whose outputs they equal:
     * {@code post_quant_conv} (models that have one), then {@code decoder.conv_in},
     * {@code decoder.mid_block}, {@code decoder.up_blocks.i} (i = 0 .. levels-1, widest first),
     * {@code decoder.conv_norm_out}, {@code decoder.conv_act} (the SiLU) and
     * {@code decoder.conv_out} (the image). Use a {@link StageTimings} for per-stage times.
     */
    public Tensor decode(Tensor z, TensorTrace trace) {
        checkOpen();
        checkLatents(z);
        try (NoGradGuard noGrad = Torch.noGrad()) {
            return Scopes.scoped(() -> decodeOne(z.to(device().toTorch(), dtype().scalarType()), trace));
        }
    }

    /**
     * {@code AutoencoderKL.decode(z).sample} after {@code vae.enable_tiling()}: latents larger than
     * one tile ({@link VaeConfig#tileLatentSize()}, FLUX: 128, i.e. 1024 px) are decoded tile by tile
     * with a {@link #TILE_OVERLAP} overlap, and the overlaps blended linearly, exactly as diffusers'
     * {@code tiled_decode}; smaller latents decode in one piece, as {@link #decode}. Peak memory is
     * that of one tile's decode plus the decoded tiles.
     */
    public Tensor decodeTiled(Tensor z) {
        return decodeTiled(z, config.sampleSize(), TILE_OVERLAP);
    }

    /**
     * Tiled decoding with another tile size (smaller tiles: less memory, more seams to blend).
     *
     * @param tileSampleSize tile side in pixels, a multiple of {@link VaeConfig#upscale()}
     * @param overlapFactor  the fraction of a tile that overlaps its neighbours, in [0, 1)
     * @see #decodeTiled(Tensor)
     */
    public Tensor decodeTiled(Tensor z, int tileSampleSize, double overlapFactor) {
        checkOpen();
        checkLatents(z);
        if (tileSampleSize <= 0 || tileSampleSize % config.upscale() != 0) {
            throw new IllegalArgumentException(
                    "tileSampleSize " + tileSampleSize + " must be a positive multiple of " + config.upscale());
        }
        if (!(overlapFactor >= 0 && overlapFactor < 1)) {
            throw new IllegalArgumentException("overlapFactor must be in [0, 1), got " + overlapFactor);
        }
        // The same int() truncations as diffusers' tiled_decode.
        int tileLatent = tileSampleSize / config.upscale();
        int overlapSize = (int) (tileLatent * (1 - overlapFactor));
        int blendExtent = (int) (tileSampleSize * overlapFactor);
        int rowLimit = tileSampleSize - blendExtent;
        if (overlapSize <= 0) {
            throw new IllegalArgumentException(
                    "tiles of " + tileLatent + " latent pixels with overlap " + overlapFactor + " do not advance");
        }
        if (z.size(2) <= tileLatent && z.size(3) <= tileLatent) {
            return decode(z);
        }
        try (NoGradGuard noGrad = Torch.noGrad()) {
            return Scopes.scoped(() -> tiled(
                    z.to(device().toTorch(), dtype().scalarType()), tileLatent, overlapSize, blendExtent, rowLimit));
        }
    }

    /**
     * The FLUX glue: {@link #unscale} then {@link #decode} (or {@link #decodeTiled}).
     *
     * @return the image {@code [B, 3, 8h, 8w]} in the compute dtype, in the caller's scope
     */
    public Tensor decodeLatents(Tensor latents, boolean tiled) {
        return Scopes.scoped(() -> {
            Tensor z = unscale(latents);
            return tiled ? decodeTiled(z) : decode(z);
        });
    }

    /**
     * Latents to 8-bit RGB images: {@link #decodeLatents} then {@link VaeImageProcessor#postprocess},
     * what FluxPipeline returns for {@code output_type="pil"}.
     */
    public List<RgbImage> decodeToImages(Tensor latents, boolean tiled) {
        try (PointerScope scope = new PointerScope()) {
            return VaeImageProcessor.postprocess(decodeLatents(latents, tiled));
        }
    }

    private Tensor decodeOne(Tensor z, TensorTrace trace) {
        TensorTrace decoderTrace = trace.prefixed("decoder.");
        if (postQuantConv == null) {
            return decoder.forward(z, decoderTrace);
        }
        try (TensorSlot q = TensorSlot.of(() -> postQuantConv.forward(z))) {
            trace.record("post_quant_conv", q.get());
            return q.update(x -> decoder.forward(x, decoderTrace)).handOver();
        }
    }

    private Tensor tiled(Tensor z, int tileLatent, int overlapSize, int blendExtent, int rowLimit) {
        long height = z.size(2);
        long width = z.size(3);
        List<List<Tensor>> rows = new ArrayList<>();
        try {
            for (long i = 0; i < height; i += overlapSize) {
                List<Tensor> row = new ArrayList<>();
                rows.add(row);
                for (long j = 0; j < width; j += overlapSize) {
                    long ti = i;
                    long tj = j;
                    row.add(Scopes.owned(() -> decodeOne(
                            z.narrow(2, ti, Math.min(tileLatent, height - ti))
                                    .narrow(3, tj, Math.min(tileLatent, width - tj)),
                            TensorTrace.NONE)));
                }
            }
            // Blends in place, in diffusers' order: a tile blended into its neighbour below/right has
            // itself been blended with the tiles above/left of it already.
            List<Tensor> resultRows = new ArrayList<>();
            for (int i = 0; i < rows.size(); i++) {
                List<Tensor> row = rows.get(i);
                TensorVector resultRow = new TensorVector();
                for (int j = 0; j < row.size(); j++) {
                    Tensor tile = row.get(j);
                    if (i > 0) {
                        blend(rows.get(i - 1).get(j), tile, blendExtent, 2);
                    }
                    if (j > 0) {
                        blend(row.get(j - 1), tile, blendExtent, 3);
                    }
                    resultRow.push_back(tile.narrow(2, 0, Math.min(rowLimit, tile.size(2)))
                            .narrow(3, 0, Math.min(rowLimit, tile.size(3))));
                }
                resultRows.add(torch.cat(resultRow, 3));
            }
            return torch.cat(new TensorVector(resultRows.toArray(new Tensor[0])), 2);
        } finally {
            for (List<Tensor> row : rows) {
                row.forEach(Scopes::release);
            }
        }
    }

    /**
     * diffusers' {@code blend_v} ({@code dim} 2) / {@code blend_h} ({@code dim} 3): the first rows
     * (columns) of {@code b} become a linear ramp from {@code a}'s last ones, written into {@code b}.
     */
    private static void blend(Tensor a, Tensor b, int blendExtent, int dim) {
        long extent = Math.min(Math.min(a.size(dim), b.size(dim)), blendExtent);
        for (long y = 0; y < extent; y++) {
            try (PointerScope scope = new PointerScope()) {
                // b[..., y, ...] = a[..., -extent + y, ...] * (1 - y / extent) + b[..., y, ...] * (y / extent),
                // the weights Python floats (doubles) as there.
                double t = (double) y / extent;
                Tensor mixed = a.select(dim, a.size(dim) - extent + y)
                        .mul(new Scalar(1 - t))
                        .add(b.select(dim, y).mul(new Scalar(t)));
                b.select(dim, y).copy_(mixed);
            }
        }
    }

    // ------------------------------------------------------------------------------ accessors

    /** The configuration. */
    public VaeConfig config() {
        return config;
    }

    private void checkLatents(Tensor z) {
        if (z.dim() != 4 || z.size(1) != config.latentChannels() || z.size(2) <= 0 || z.size(3) <= 0) {
            throw new IllegalArgumentException(
                    "latents must be [B, " + config.latentChannels() + ", h, w], got " + Arrays.toString(z.shape()));
        }
    }
}
