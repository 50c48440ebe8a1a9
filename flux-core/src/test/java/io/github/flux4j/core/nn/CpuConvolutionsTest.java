package io.github.flux4j.core.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.nn.CpuConvolutions.Signature;
import io.github.flux4j.core.nn.CpuConvolutions.Verdict;
import io.github.flux4j.core.torch.Torch;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every distinct convolution of FLUX.1's VAE decoder and of the tiny test/demo VAEs, in float32 and
 * bf16, against a float64 convolution of the same dtype-rounded numbers (float64 never runs in
 * oneDNN; {@link #float64ReferenceIsTheConvolutionSum} checks it against plain Java loops).
 *
 * <p>On a CPU whose oneDNN kernels are wrong for some of these (an AVX-512 AMD EPYC with LibTorch
 * 2.10, see {@code docs/cpu.md}), {@link #decoderPathMatchesFloat64} fails unless
 * {@link CpuConvolutions} reroutes them; {@link #gemmFallbackMatchesFloat64} tests the reroute target
 * on every machine, and {@link #trustedOneDnnIsRightAtAnotherSize} that a passed start-up check
 * also holds at an image size other than the probe's.
 */
class CpuConvolutionsTest {
    /**
     * float32: a right kernel is ~2e-7 off float64 per channel (summation order); the faulty one
     * 0.2 to 0.7.
     */
    static final double F32_TOL = 1e-5;
    /**
     * bf16: one rounding of each output to 8 significant bits, ~1.7e-3 relative per channel
     * (observed up to 2.6e-3); the faulty kernels are 0.1 to 0.6 off.
     */
    static final double BF16_TOL = 1e-2;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    /** in, out, kernel: FLUX.1's VAE decoder, then the tiny VAEs' (16/16/24/24 and 8/8/16/16 widths). */
    static final long[][] SIGNATURES = {
        {16, 512, 3},
        {512, 512, 3},
        {512, 256, 3},
        {256, 256, 3},
        {256, 128, 3},
        {128, 128, 3},
        {128, 3, 3},
        {512, 256, 1},
        {256, 128, 1},
        {16, 24, 3},
        {24, 24, 3},
        {24, 16, 3},
        {16, 16, 3},
        {16, 3, 3},
        {24, 16, 1},
        {16, 8, 3},
        {8, 8, 3},
        {8, 3, 3},
        {16, 8, 1},
    };

    static Stream<Arguments> signatures() {
        List<Arguments> out = new ArrayList<>();
        for (ScalarType dtype : List.of(ScalarType.Float, ScalarType.BFloat16)) {
            for (long[] s : SIGNATURES) {
                out.add(Arguments.of(new Signature(dtype, s[0], s[1], (int) s[2], (int) s[2] / 2)));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("signatures")
    void decoderPathMatchesFloat64(Signature s) {
        try (InferenceMode im = Torch.inference();
                PointerScope scope = new PointerScope()) {
            // Batch 2 (16 for 1x1 kernels): at::conv2d then picks oneDNN for float32 too, as it does
            // for the decoder's image sizes (a 1x7x11 float32 input would run ATen's own kernel).
            Conv c = Conv.random(s, s.kernel() == 1 ? 16 : 2, 5, 11, 1);
            Tensor y = CpuConvolutions.conv2d(c.x, c.weight, c.bias, s.padding());
            assertThat(Torch.dtype(y)).isEqualTo(s.dtype());
            double err = CpuConvolutions.channelError(y, c.reference());
            System.out.printf("%s: decoder path rel %.2e (%s)%n", s, err, CpuConvolutions.verdict(s));
            assertThat(err).isLessThan(tolerance(s));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("signatures")
    void gemmFallbackMatchesFloat64(Signature s) {
        try (InferenceMode im = Torch.inference();
                PointerScope scope = new PointerScope()) {
            Conv c = Conv.random(s, 2, 5, 11, 2);
            Tensor y = CpuConvolutions.gemmConv2d(c.x, c.weight, c.bias, s.padding());
            assertThat(Torch.dtype(y)).isEqualTo(s.dtype());
            assertThat(CpuConvolutions.channelError(y, c.reference())).isLessThan(tolerance(s));
            // Bands of two rows (FLUX-size images are banded the same way). Not bit-identical to one
            // band: the BLAS may sum a column differently depending on where it falls in a block.
            long band = Math.max(s.kernel() * s.kernel() * s.outChannels(), s.inChannels()) * (11 + 2L * s.padding());
            Tensor banded = CpuConvolutions.gemmConv2d(c.x, c.weight, c.bias, s.padding(), band * (s.kernel() + 1));
            assertThat(CpuConvolutions.channelError(banded, c.reference()))
                    .as("banded")
                    .isLessThan(tolerance(s));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("signatures")
    void trustedOneDnnIsRightAtAnotherSize(Signature s) {
        Verdict v = CpuConvolutions.verdict(s);
        assumeTrue(v.useLibTorch() && !Double.isNaN(v.oneDnnError()), "oneDNN not used for " + s);
        try (InferenceMode im = Torch.inference();
                PointerScope scope = new PointerScope()) {
            Conv c = Conv.random(s, 1, 12, 21, 3);
            Tensor y = torch.mkldnn_convolution(
                    c.x,
                    c.weight,
                    new TensorOptional(c.bias),
                    new long[] {s.padding(), s.padding()},
                    new long[] {1, 1},
                    new long[] {1, 1},
                    1);
            assertThat(CpuConvolutions.channelError(y, c.reference())).isLessThan(tolerance(s));
        }
    }

    @Test
    void gemmFallbackWithoutPaddingAndOddShapes() {
        try (InferenceMode im = Torch.inference();
                PointerScope scope = new PointerScope()) {
            for (Signature s : List.of(
                    new Signature(ScalarType.Float, 24, 16, 3, 0),
                    new Signature(ScalarType.BFloat16, 5, 7, 3, 2),
                    new Signature(ScalarType.Float, 3, 4, 5, 2))) {
                Conv c = Conv.random(s, 3, 6, 9, 4);
                Tensor ref = c.reference();
                Tensor y = CpuConvolutions.gemmConv2d(c.x, c.weight, c.bias, s.padding(), 1);
                assertThat(y.sizes().vec().get())
                        .containsExactly(ref.sizes().vec().get());
                assertThat(CpuConvolutions.channelError(y, ref))
                        .as(s.toString())
                        .isLessThan(tolerance(s));
            }
        }
    }

    @Test
    void float64ReferenceIsTheConvolutionSum() {
        try (InferenceMode im = Torch.inference();
                PointerScope scope = new PointerScope()) {
            Signature s = new Signature(ScalarType.Float, 24, 5, 3, 1);
            Conv c = Conv.random(s, 1, 4, 6, 5);
            double[] x = doubles(c.x);
            double[] w = doubles(c.weight);
            double[] b = doubles(c.bias);
            double[] ref = doubles(c.reference());
            int in = 24;
            int out = 5;
            int h = 4;
            int wd = 6;
            for (int o = 0; o < out; o++) {
                for (int r = 0; r < h; r++) {
                    for (int q = 0; q < wd; q++) {
                        double sum = b[o];
                        for (int i = 0; i < in; i++) {
                            for (int kr = 0; kr < 3; kr++) {
                                for (int kq = 0; kq < 3; kq++) {
                                    int rr = r + kr - 1;
                                    int qq = q + kq - 1;
                                    if (rr >= 0 && rr < h && qq >= 0 && qq < wd) {
                                        sum += w[((o * in + i) * 3 + kr) * 3 + kq] * x[(i * h + rr) * wd + qq];
                                    }
                                }
                            }
                        }
                        assertThat(ref[(o * h + r) * wd + q])
                                .isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-12));
                    }
                }
            }
        }
    }

    @Test
    void verdictsAreCachedPerSignature() {
        Signature s = new Signature(ScalarType.Float, 16, 3, 3, 1);
        assertThat(CpuConvolutions.verdict(s))
                .isSameAs(CpuConvolutions.verdict(new Signature(ScalarType.Float, 16, 3, 3, 1)));
    }

    @Test
    void badArgumentsAreNamed() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = torch.zeros(1, 4, 5, 5);
            Tensor w = torch.zeros(3, 5, 3, 3);
            Tensor b = torch.zeros(3);
            assertThatThrownBy(() -> CpuConvolutions.conv2d(x, w, b, 1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[1, 4, 5, 5]")
                    .hasMessageContaining("[3, 5, 3, 3]");
            Tensor w4 = torch.zeros(3, 4, 3, 3).to(ScalarType.BFloat16);
            assertThatThrownBy(() -> CpuConvolutions.conv2d(x, w4, b, 1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dtype");
            assertThatThrownBy(() -> CpuConvolutions.conv2d(x, torch.zeros(3, 4, 3, 3), b, -1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("padding");
        }
    }

    private static double tolerance(Signature s) {
        return s.dtype() == ScalarType.Float ? F32_TOL : BF16_TOL;
    }

    private static double[] doubles(Tensor t) {
        Tensor d = t.to(ScalarType.Double).contiguous();
        double[] out = new double[(int) d.numel()];
        d.data_ptr_double().get(out);
        return out;
    }

    /** Random input, weight and bias of a signature, rounded to its dtype. */
    private record Conv(Signature s, Tensor x, Tensor weight, Tensor bias) {
        static Conv random(Signature s, long batch, long h, long w, long seed) {
            SplittableRandom random = new SplittableRandom(seed);
            double scale = 1.0 / Math.sqrt((double) s.inChannels() * s.kernel() * s.kernel());
            return new Conv(
                    s,
                    uniform(random, 1, s.dtype(), batch, s.inChannels(), h, w),
                    uniform(random, scale, s.dtype(), s.outChannels(), s.inChannels(), s.kernel(), s.kernel()),
                    uniform(random, 0.5, s.dtype(), s.outChannels()));
        }

        /** The float64 convolution of the same (rounded) numbers. */
        Tensor reference() {
            long p = s.padding();
            return torch.conv2d(
                    x.to(ScalarType.Double),
                    weight.to(ScalarType.Double),
                    new TensorOptional(bias.to(ScalarType.Double)),
                    new long[] {1, 1},
                    new long[] {p, p},
                    new long[] {1, 1},
                    1);
        }

        private static Tensor uniform(SplittableRandom random, double scale, ScalarType dtype, long... shape) {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            float[] v = new float[Math.toIntExact(n)];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
            }
            return Tensor.create(v, shape).to(dtype);
        }
    }
}
