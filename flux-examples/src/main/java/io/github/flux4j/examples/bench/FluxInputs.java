package io.github.flux4j.examples.bench;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GraphedForward;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * Random transformer inputs of the pipeline's shapes for an image of {@code width x height}
 * pixels: packed latents {@code [1, (h/16)(w/16), inChannels]}, their (0, row, col) ids, T5
 * states {@code [1, txtTokens, contextInDim]}, zero text ids, a pooled vector, timestep (sigma)
 * 1.0 and guidance 3.5, all on {@code device} (floats in float32; the model casts). Owns its
 * tensors; {@link #close()} frees them.
 */
final class FluxInputs implements AutoCloseable {
    final int width;
    final int height;
    final int imageTokens;
    final int textTokens;
    private final PointerScope scope;
    private final Tensor img;
    private final Tensor imgIds;
    private final Tensor txt;
    private final Tensor txtIds;
    private final Tensor timestep;
    private final Tensor y;
    private final Tensor guidance;

    FluxInputs(FluxConfig config, FluxDevice device, int width, int height, int textTokens, long seed) {
        if (width % 16 != 0 || height % 16 != 0) {
            throw new IllegalArgumentException("width and height must be multiples of 16, got " + width + "x" + height);
        }
        this.width = width;
        this.height = height;
        this.textTokens = textTokens;
        int rows = height / 16;
        int cols = width / 16;
        this.imageTokens = rows * cols;
        this.scope = new PointerScope();
        try {
            Generator g = torch.make_generator_cpu(seed);
            TensorOptions f32 = new TensorOptions(ScalarType.Float);
            var dev = device.toTorch();
            img = torch.randn(new long[] {1, imageTokens, config.inChannels()}, new GeneratorOptional(g), f32)
                    .to(dev, ScalarType.Float);
            float[] ids = new float[imageTokens * 3];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    int t = r * cols + c;
                    ids[3 * t + 1] = r;
                    ids[3 * t + 2] = c;
                }
            }
            imgIds = Tensors.fromFloats(ids, new long[] {imageTokens, 3}, ComputeDtype.F32, device);
            txt = torch.randn(new long[] {1, textTokens, config.contextInDim()}, new GeneratorOptional(g), f32)
                    .to(dev, ScalarType.Float);
            txtIds = torch.zeros(new long[] {textTokens, 3}, f32).to(dev, ScalarType.Float);
            timestep = torch.full(new long[] {1}, new Scalar(1.0), f32).to(dev, ScalarType.Float);
            y = torch.randn(new long[] {1, config.vecInDim()}, new GeneratorOptional(g), f32)
                    .to(dev, ScalarType.Float);
            guidance = torch.full(new long[] {1}, new Scalar(3.5), f32).to(dev, ScalarType.Float);
            for (Tensor t : new Tensor[] {img, imgIds, txt, txtIds, timestep, y, guidance}) {
                t.retainReference();
            }
        } finally {
            scope.close();
        }
    }

    /** One forward; the result belongs to the caller's scope. */
    Tensor forward(FluxTransformer model) {
        return forward(model, null);
    }

    /**
     * One forward, through {@code graphs} (a CUDA graph per shape) where given; the result belongs
     * to the caller's scope.
     */
    Tensor forward(FluxTransformer model, @Nullable GraphedForward graphs) {
        Tensor g = model.config().guidanceEmbed() ? guidance : null;
        return graphs != null
                ? graphs.forward(img, imgIds, txt, txtIds, timestep, y, g)
                : model.forward(img, imgIds, txt, txtIds, timestep, y, g);
    }

    String size() {
        return width + "x" + height;
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {img, imgIds, txt, txtIds, timestep, y, guidance}) {
            t.close();
        }
    }
}
