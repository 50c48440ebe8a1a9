package io.github.flux4j.core.transformer;

import io.github.flux4j.core.nn.Functional;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Tensors;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The FLUX-specific stateless math of the transformer (the generic norms, activations and
 * attention are {@link Functional}'s), each function issuing the same ATen operations, in
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

    private FluxMath() {}

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

    /**
     * diffusers' {@code get_timestep_embedding(t, 256, flip_sin_to_cos=True,
     * downscale_freq_shift=0)} for {@code t [B]} (any device, any float dtype: its values are read
     * as float32, as diffusers' {@code timesteps.float()}): float32 {@code [B, 256]}
     * {@code [cos(arg) | sin(arg)]} on t's device. On the CPU by {@link #sinusoid}; on a GPU by
     * {@link #sinusoidOnDevice}, without reading t back to the host (which would stop the host until
     * the GPU got there and leave the GPU idle while the host computed and copied the table).
     */
    static Tensor timestepEmbedding(Tensor t) {
        if (t.is_cuda()) {
            return sinusoidOnDevice(t);
        }
        Tensor host = t.to(ScalarType.Float).contiguous();
        float[] ts = new float[(int) host.numel()];
        host.data_ptr_float().get(ts);
        float[] table = sinusoid(ts);
        FloatPointer data = new FloatPointer(table);
        Tensor cpu = torch.from_blob(data, new long[] {ts.length, TIME_EMBED_DIM}, new TensorOptions(ScalarType.Float));
        return cpu.clone(); // the one copy into LibTorch-owned memory (then `data` may be freed with the scope)
    }

    /**
     * The 128 frequencies as a float32 tensor per CUDA device, made on the first forward there (a
     * copy from the host, which waits for the GPU once) and never freed: 512 bytes per device for
     * the life of the process.
     */
    private static final ConcurrentHashMap<Long, Tensor> DEVICE_FREQS = new ConcurrentHashMap<>();

    /**
     * {@link #sinusoid}'s table computed on t's device: {@code arg = float32(t * freq_k)} (one
     * float32 product, as on the host), then cos and sin of arg in float64 rounded to float32, as
     * the host's {@code (float) StrictMath.cos(arg)}. Both float64 functions are within an ulp or two
     * of the exact value, so the float32 results are the same except where the exact value lies that
     * close to a float32 rounding boundary (about one value in 10^8; {@code FluxMathTest} compares
     * the two tables on the GPU).
     */
    static Tensor sinusoidOnDevice(Tensor t) {
        Tensor freqs = DEVICE_FREQS.computeIfAbsent((long) t.device().index(), d -> {
            try (PointerScope scope = new PointerScope()) {
                return Scopes.keep(
                        Tensors.fromFloats(FREQS.clone(), TIME_EMBED_DIM / 2).to(t.device(), ScalarType.Float));
            }
        });
        Tensor arg = t.to(ScalarType.Float).reshape(-1, 1).mul(freqs).to(ScalarType.Double);
        return torch.cat(new TensorVector(arg.cos(), arg.sin()), 1).to(ScalarType.Float);
    }

    /** {@code float32(-ln(10000))}: torch casts the Python float to the tensor's dtype. */
    private static final float NEG_LN_MAX_PERIOD = (float) -Math.log(10000.0);
    /** The 128 frequencies, correctly rounded to float32 (see {@link #sinusoid}). */
    private static final float[] FREQS = frequencies();

    private static float[] frequencies() {
        int half = TIME_EMBED_DIM / 2;
        float[] f = new float[half];
        for (int k = 0; k < half; k++) {
            // float32 ops as torch: (c * k) rounded, then / 128 (exact)
            float exponent = (NEG_LN_MAX_PERIOD * k) / half;
            f[k] = (float) StrictMath.exp(exponent);
        }
        return f;
    }

    /** The sinusoid frequencies {@code exp(-ln(10000) k / 128)}, k = 0..127, as float32 (a copy). */
    static float[] frequencies128() {
        return FREQS.clone();
    }

    /**
     * The sinusoidal embedding {@code [B * 256]} (row-major) of float32 timesteps, the operations
     * of diffusers' {@code get_timestep_embedding} in its order and dtypes, evaluated in Java:
     * {@code exponent_k = float32(float32(-ln 10000) * k) / 128} (float32, as torch),
     * {@code f_k = float32(exp(exponent_k))}, {@code arg = float32(t * f_k)} (one float32
     * multiplication, as torch), output {@code [float32(cos(arg)) | float32(sin(arg))]}.
     *
     * <p>Each transcendental is evaluated in double ({@link StrictMath}: fdlibm, the same bits on
     * every JVM and platform) and rounded once to float32: the correctly rounded float32 result
     * except where the exact value lies within a double ulp of a float32 rounding midpoint (about
     * 1 value in 10^8; for the 128 frequencies checked: the nearest is 0.004 float32 ulps away).
     * float32 {@code exp}/{@code sin}/{@code cos} kernels are only accurate to 1–4 ulps and differ
     * between libraries (MKL VML, SLEEF, CUDA), and with arguments up to {@code 1000 * guidance}
     * a one-ulp difference in a frequency moves an argument by whole ulps (10^-4 at 4000):
     * evaluating the table here gives the same embedding on CPU and CUDA, whatever LibTorch's
     * build, within ~1e-5 of any correctly rounding implementation. See docs/transformer.md.
     */
    static float[] sinusoid(float[] t) {
        int half = TIME_EMBED_DIM / 2;
        float[] out = new float[t.length * TIME_EMBED_DIM];
        for (int b = 0; b < t.length; b++) {
            int row = b * TIME_EMBED_DIM;
            for (int k = 0; k < half; k++) {
                float arg = t[b] * FREQS[k];
                // cat([sin, cos]) then flip_sin_to_cos swaps the halves: [cos | sin]
                out[row + k] = (float) StrictMath.cos(arg);
                out[row + half + k] = (float) StrictMath.sin(arg);
            }
        }
        return out;
    }

    /**
     * diffusers' {@code apply_rotary_emb(x, (cos, sin), use_real=True, use_real_unbind_dim=-1,
     * sequence_dim=1)} for {@code x [B, S, H, D]} and tables {@code [S, D]}: pairs
     * {@code (2i, 2i+1)} rotate, computed as {@code x.float() * cos + rot(x).float() * sin}
     * then cast back to x's dtype.
     */
    static Tensor applyRope(Tensor x, Tensor cos, Tensor sin) {
        long[] shape = Tensors.shape(x);
        long[] pairs = {shape[0], shape[1], shape[2], shape[3] / 2, 2};
        TensorVector reIm = x.reshape(pairs).unbind(-1);
        Tensor rotated = torch.stack(new TensorVector(reIm.get(1).neg(), reIm.get(0)), -1)
                .flatten(3, -1);
        Tensor c = cos.unsqueeze(0).unsqueeze(2);
        Tensor s = sin.unsqueeze(0).unsqueeze(2);
        return x.to(ScalarType.Float)
                .mul(c)
                .add(rotated.to(ScalarType.Float).mul(s))
                .to(x.scalar_type());
    }

    /**
     * {@code F.scaled_dot_product_attention} on {@code [B, S, H, D]} inputs, laid out as diffusers'
     * native backend does ({@code permute(0, 2, 1, 3)} in and out), no mask, scale
     * {@code 1/sqrt(D)}; returns {@code [B, S, H*D]}.
     */
    static Tensor attention(Tensor q, Tensor k, Tensor v) {
        Tensor out = Functional.sdpa(q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3));
        return out.permute(0, 2, 1, 3).flatten(2, 3);
    }
}
