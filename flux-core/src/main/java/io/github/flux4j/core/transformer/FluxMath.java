package io.github.flux4j.core.transformer;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The stateless math of the FLUX transformer, each function issuing the same ATen operations, in
 * the same order and dtypes, as diffusers ({@code transformer_flux.py}, {@code embeddings.py},
 * {@code normalization.py}). Every function returns a new tensor owned by the enclosing
 * {@link org.bytedeco.javacpp.PointerScope}.
 */
final class FluxMath {
    /** eps of every LayerNorm and RMSNorm in FLUX. */
    static final double EPS = 1e-6;
    /** Width of the sinusoidal timestep / guidance embedding. */
    static final int TIME_EMBED_DIM = 256;
    /** diffusers multiplies the timestep and the guidance it receives by this. */
    static final long TIME_FACTOR = 1000;

    private FluxMath() {
    }

    /** {@code nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)} over the last dim. */
    static Tensor layerNorm(Tensor x) {
        return torch.layer_norm(x, new long[] {x.size(-1)}, new TensorOptional(), new TensorOptional(), EPS, true);
    }

    /** {@code F.rms_norm(x, (D,), weight, 1e-6)} over the last dim (torch.nn.RMSNorm). */
    static Tensor rmsNorm(Tensor x, Tensor weight) {
        return torch.rms_norm(x, new long[] {x.size(-1)}, new TensorOptional(weight), new DoubleOptional(EPS));
    }

    /**
     * {@code x * (1 + scale[:, None]) + shift[:, None]}: each of the three ops rounds to the
     * activation dtype, {@code (1 + scale)} first, as in diffusers' AdaLayerNorm classes.
     */
    static Tensor modulate(Tensor normed, Tensor shift, Tensor scale) {
        return normed.mul(scale.unsqueeze(1).add(new Scalar(1L))).add(shift.unsqueeze(1));
    }

    /** {@code gate[:, None] * x}. */
    static Tensor gate(Tensor gate, Tensor x) {
        return gate.unsqueeze(1).mul(x);
    }

    /** {@code F.gelu(x, approximate="tanh")}. */
    static Tensor geluTanh(Tensor x) {
        return torch.gelu(x, "tanh");
    }

    /** {@code F.silu(x)}. */
    static Tensor silu(Tensor x) {
        return torch.silu(x);
    }

    /**
     * diffusers' {@code get_timestep_embedding(t, 256, flip_sin_to_cos=True,
     * downscale_freq_shift=0)}: {@code f_k = exp(-ln(10000) * k / 128)} in float32 on the
     * device, {@code arg = float(t) * f_k}, output {@code [cos(arg) | sin(arg)]}, float32
     * {@code [B, 256]}.
     */
    static Tensor timestepEmbedding(Tensor t) {
        int half = TIME_EMBED_DIM / 2;
        TensorOptions f32 = new TensorOptions(ScalarType.Float).device(new DeviceOptional(t.device()));
        Tensor exponent = torch.arange(new Scalar(0L), new Scalar((long) half), f32)
                .mul(new Scalar(-Math.log(10000.0)))
                .div(new Scalar((long) half));
        Tensor freqs = torch.exp(exponent);
        Tensor args = t.unsqueeze(1).to(ScalarType.Float).mul(freqs.unsqueeze(0));
        // cat([sin, cos]) then flip_sin_to_cos swaps the halves: [cos | sin].
        return torch.cat(new TensorVector(torch.cos(args), torch.sin(args)), -1);
    }

    /**
     * diffusers' {@code apply_rotary_emb(x, (cos, sin), use_real=True, use_real_unbind_dim=-1,
     * sequence_dim=1)} for {@code x [B, S, H, D]} and tables {@code [S, D]}: pairs
     * {@code (2i, 2i+1)} rotate, computed as {@code x.float() * cos + rot(x).float() * sin}
     * then cast back to x's dtype.
     */
    static Tensor applyRope(Tensor x, Tensor cos, Tensor sin) {
        long[] shape = shape(x);
        long[] pairs = {shape[0], shape[1], shape[2], shape[3] / 2, 2};
        TensorVector reIm = x.reshape(pairs).unbind(-1);
        Tensor rotated = torch.stack(new TensorVector(reIm.get(1).neg(), reIm.get(0)), -1).flatten(3, -1);
        Tensor c = cos.unsqueeze(0).unsqueeze(2);
        Tensor s = sin.unsqueeze(0).unsqueeze(2);
        return x.to(ScalarType.Float).mul(c).add(rotated.to(ScalarType.Float).mul(s)).to(x.scalar_type());
    }

    /**
     * {@code F.scaled_dot_product_attention} on {@code [B, S, H, D]} inputs, laid out as diffusers'
     * native backend does ({@code permute(0, 2, 1, 3)} in and out), no mask, scale
     * {@code 1/sqrt(D)}; returns {@code [B, S, H*D]}.
     */
    static Tensor attention(Tensor q, Tensor k, Tensor v) {
        Tensor out = torch.scaled_dot_product_attention(q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3),
                new TensorOptional(), 0.0, false, new DoubleOptional(), false);
        return out.permute(0, 2, 1, 3).flatten(2, 3);
    }

    /** The sizes of {@code t}. */
    static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }
}
