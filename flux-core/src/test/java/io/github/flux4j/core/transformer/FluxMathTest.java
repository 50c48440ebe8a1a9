package io.github.flux4j.core.transformer;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Tensors;
import io.github.flux4j.core.torch.Torch;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The host-side sinusoidal timestep embedding ({@link FluxMath#sinusoid}). */
class FluxMathTest {

    @Test
    void frequenciesAreCorrectlyRounded() {
        float[] f = FluxMath.frequencies128();
        assertThat(f).hasSize(128);
        assertThat(f[0]).isEqualTo(1f);
        for (int k = 0; k < 128; k++) {
            // torch's float32 exponent: float32(-ln 1e4) * k rounded, / 128 exact
            float exponent = ((float) -Math.log(10000.0) * k) / 128;
            double exact = StrictMath.exp(exponent); // within 1 double ulp of exp(exponent)
            double ulp = Math.ulp(f[k]);
            double offset = (exact - f[k]) / ulp; // where exp lies, in float32 ulps from f[k]
            assertThat(Math.abs(offset)).as("k=%d", k).isLessThan(0.5);
            // far enough from a rounding midpoint that the double's own error cannot matter
            assertThat(0.5 - Math.abs(offset)).as("k=%d", k).isGreaterThan(1e-6);
        }
        // the two where torch 2.13 (MKL VML) rounds the other way, see FluxTransformerReferenceTest.F32_TOL
        assertThat(f[12]).isEqualTo(0.4216964840888977f);
        assertThat(Math.nextUp(f[12])).isEqualTo(0.42169651389122009f);
        assertThat(f[106]).isEqualTo(4.8696750309318304e-4f);
    }

    @Test
    void sinusoidIsCosThenSinOfFloat32Products() {
        float[] t = {0f, 500f, 4000f};
        float[] out = FluxMath.sinusoid(t);
        float[] f = FluxMath.frequencies128();
        assertThat(out).hasSize(3 * 256);
        for (int k = 0; k < 128; k++) {
            assertThat(out[k]).isEqualTo(1f);
            assertThat(out[128 + k]).isEqualTo(0f);
        }
        // t = 4000, k = 12: arg = float32(4000 * f12) = 1686.785888671875
        float arg = 4000f * f[12];
        assertThat(arg).isEqualTo(1686.785888671875f);
        assertThat(out[2 * 256 + 12]).isEqualTo((float) StrictMath.cos(1686.785888671875));
        assertThat(out[2 * 256 + 128 + 12]).isEqualTo((float) StrictMath.sin(1686.785888671875));
        assertThat(out[256 + 1]).isEqualTo((float) StrictMath.cos(500f * f[1]));
    }

    @Test
    void embeddingTensorIsTheTableForAnyInputDtype() {
        Torch.init();
        try (PointerScope scope = new PointerScope()) {
            // bf16 t: read as float32 (diffusers' timesteps.float()), the table stays float32
            Tensor t = Tensor.create(new float[] {500f, 752f}, new long[] {2}).to(ScalarType.BFloat16);
            Tensor emb = FluxMath.timestepEmbedding(t);
            assertThat(Torch.dtype(emb)).isEqualTo(ScalarType.Float);
            assertThat(Tensors.shape(emb)).containsExactly(2, 256);
            float[] got = new float[2 * 256];
            emb.contiguous().data_ptr_float().get(got);
            assertThat(got).containsExactly(FluxMath.sinusoid(new float[] {500f, 752f}));
        }
    }

    /**
     * On a GPU the table is computed there (no read-back of t): every bfloat16 value in [0, 10000]
     * (timesteps and guidance scales up to 10, times 1000, as the transformer passes them) and random
     * floats, against the host's table. Skipped without CUDA.
     */
    @Test
    void deviceTableMatchesTheHostTable() {
        Assumptions.assumeTrue(FluxDevice.cudaAvailable(), "no CUDA");
        List<Float> values = new ArrayList<>();
        for (int bits = 0; bits < 0x7F80; bits++) { // every finite non-negative bfloat16
            float v = Float.intBitsToFloat(bits << 16);
            if (v <= 10000f) { // timesteps x 1000 up to 1000, guidance x 1000 up to 10 (bf16(3.5 x 1000) is 3504)
                values.add(v);
            }
        }
        Random r = new Random(7);
        for (int i = 0; i < 20000; i++) {
            values.add(r.nextFloat() * 1000f);
        }
        float[] ts = new float[values.size()];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = values.get(i);
        }
        float[] host = FluxMath.sinusoid(ts);
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.fromFloats(ts, ts.length).to(FluxDevice.cuda(0).toTorch(), ScalarType.Float);
            Tensor dev =
                    FluxMath.timestepEmbedding(t).to(ScalarType.Float).cpu().contiguous();
            float[] got = new float[host.length];
            dev.data_ptr_float().get(got);
            int differ = 0;
            for (int i = 0; i < host.length; i++) {
                if (Float.floatToIntBits(got[i]) != Float.floatToIntBits(host[i])) {
                    differ++;
                    assertThat(Math.abs(got[i] - host[i])).as("value %d", i).isLessThanOrEqualTo(Math.ulp(host[i]));
                }
            }
            System.out.printf(
                    "device sinusoid: %d of %d values differ from the host table (by one ulp)%n", differ, host.length);
        }
    }
}
