package io.github.flux4j.core.torch;

/**
 * The kernels behind {@code scaled_dot_product_attention}, with ATen's {@code SDPBackend} numbers.
 * Their outputs differ in the last bits, so the backend matters for matching a reference run.
 */
public enum SdpaBackend {
    /** The composite reference implementation (any device, slowest). */
    MATH(0),
    /** FlashAttention-2 (CUDA; also the fused CPU kernel). */
    FLASH(1),
    /** xFormers-style memory-efficient attention (CUDA). */
    EFFICIENT(2),
    /** cuDNN's fused attention (CUDA, sm80+); PyTorch's default on H100 with a recent cuDNN. */
    CUDNN(3),
    /** A backend registered by an out-of-tree device. */
    OVERRIDEABLE(4);

    private final int atenId;

    SdpaBackend(int atenId) {
        this.atenId = atenId;
    }

    /** ATen's {@code at::SDPBackend} value. */
    public int atenId() {
        return atenId;
    }

    /**
     * The backend with ATen id {@code id}.
     *
     * @throws IllegalArgumentException if no backend has that id
     */
    public static SdpaBackend ofAtenId(int id) {
        for (SdpaBackend b : values()) {
            if (b.atenId == id) {
                return b;
            }
        }
        throw new IllegalArgumentException("no SDPA backend has ATen id " + id);
    }
}
