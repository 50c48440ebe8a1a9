package io.github.flux4j.core.vae;

import io.github.flux4j.core.torch.Scopes;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * diffusers' {@code VaeImageProcessor.postprocess(image, output_type="pil")} for decoded images in
 * [-1, 1], with the same arithmetic:
 * <ol>
 *   <li>{@code (image * 0.5 + 0.5).clamp(0, 1)} on the image's device in its dtype (in bf16 each op
 *       rounds to bf16, as in the pipeline);</li>
 *   <li>{@code .cpu().permute(0, 2, 3, 1).float()};</li>
 *   <li>numpy's {@code (images * 255).round().astype("uint8")}: a float32 multiply and
 *       round-half-to-even, which {@code at::mul} and {@code at::round} on float32 reproduce bit for bit.</li>
 * </ol>
 */
public final class VaeImageProcessor {
    private VaeImageProcessor() {}

    /**
     * {@code (images * 0.5 + 0.5).clamp(0, 1)}: [-1, 1] to [0, 1], in the caller's scope.
     */
    public static Tensor denormalize(Tensor images) {
        return Scopes.scoped(() -> images.mul(new Scalar(0.5))
                .add(new Scalar(0.5))
                .clamp(new ScalarOptional(new Scalar(0L)), new ScalarOptional(new Scalar(1L))));
    }

    /**
     * Decoded images to 8-bit RGB, one per batch entry.
     *
     * @param images {@code [B, 3, H, W]} in [-1, 1] (values outside are clamped), any float dtype and device
     * @throws IllegalArgumentException if the shape is not {@code [B, 3, H, W]}
     */
    public static List<RgbImage> postprocess(Tensor images) {
        if (images.dim() != 4 || images.size(1) != 3) {
            throw new IllegalArgumentException(
                    "images must be [B, 3, H, W], got " + java.util.Arrays.toString(images.shape()));
        }
        int b = Math.toIntExact(images.size(0));
        int h = Math.toIntExact(images.size(2));
        int w = Math.toIntExact(images.size(3));
        List<RgbImage> out = new ArrayList<>(b);
        try (PointerScope scope = new PointerScope()) {
            Tensor unit = denormalize(images)
                    .to(new Device(DeviceType.CPU), ScalarType.Float)
                    .permute(0, 2, 3, 1);
            Tensor bytes =
                    unit.mul(new Scalar(255L)).round().to(ScalarType.Byte).contiguous();
            byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(h, w), 3)];
            for (int i = 0; i < b; i++) {
                bytes.select(0, i).data_ptr_byte().get(rgb);
                out.add(new RgbImage(w, h, rgb));
            }
        }
        return out;
    }
}
