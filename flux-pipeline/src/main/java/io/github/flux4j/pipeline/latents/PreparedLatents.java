package io.github.flux4j.pipeline.latents;

import io.github.flux4j.core.torch.Scopes;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * What {@code prepare_latents} returns: the packed latents and their RoPE position ids.
 *
 * <p>The tensors belong to the {@link org.bytedeco.javacpp.PointerScope} that was open when they
 * were made, or, with none, to this object: {@link #close()} then frees them.
 *
 * @param latents  {@code [B, imageSeqLen, 64]} in the pipeline dtype, on the pipeline device
 * @param imageIds {@code [imageSeqLen, 3]}, rows {@code (0, row, col)}, same dtype and device
 */
public record PreparedLatents(Tensor latents, Tensor imageIds) implements AutoCloseable {
    /** Checks that both tensors are present. */
    public PreparedLatents {
        Objects.requireNonNull(latents, "latents");
        Objects.requireNonNull(imageIds, "imageIds");
    }

    /** Releases both tensors (a no-op for tensors already freed). */
    @Override
    public void close() {
        Scopes.release(latents);
        Scopes.release(imageIds);
    }
}
