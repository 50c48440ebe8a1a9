package io.github.flux4j.pipeline.latents;

/**
 * How bfloat16 and float16 noise is drawn. PyTorch changed its CPU {@code randn} for these two
 * dtypes (pytorch#179834, after 2.11): it now draws float32 normals with its vectorised kernel and
 * rounds them, where up to 2.11 it ran a separate reduced-precision kernel whose numbers are
 * entirely different (not merely rounded differently). The same seed therefore gives a different
 * FLUX image under diffusers with PyTorch 2.11 and with 2.13. LibTorch 2.10, which this library
 * runs on, still has the old kernel; {@link #FLOAT32_ROUNDED} reproduces the new behaviour on it.
 *
 * <p>float32 and float64 noise is the same in both modes and in every PyTorch version.
 */
public enum NoiseDraw {
    /**
     * Draw float32, round to the dtype (nearest even): PyTorch's CPU {@code randn} for bfloat16
     * and float16 since the change (checked bit for bit against torch 2.13.0). Exact for tensors
     * whose element count is a multiple of 16, which every FLUX latent is (16 channels); PyTorch
     * treats a trailing partial block of 16 differently. The default.
     */
    FLOAT32_ROUNDED,
    /**
     * Draw directly in the dtype with LibTorch 2.10's CPU kernel: PyTorch's {@code randn} up to
     * 2.11 (checked against torch 2.11.0).
     */
    IN_DTYPE;

    /** The default draw, {@link #FLOAT32_ROUNDED}: what current PyTorch (2.13) gives. */
    public static NoiseDraw defaultDraw() {
        return FLOAT32_ROUNDED;
    }
}
