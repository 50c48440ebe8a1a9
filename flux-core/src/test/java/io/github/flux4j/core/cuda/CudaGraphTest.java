package io.github.flux4j.core.cuda;

import static io.github.flux4j.core.quant.TensorData.bits;
import static io.github.flux4j.core.quant.TensorData.toFloats;
import static io.github.flux4j.core.testing.TextRefs.relError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.quant.TensorData;
import io.github.flux4j.core.torch.FluxDevice;
import java.util.Random;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaGraph}: a captured chain of LibTorch ops replayed over new input values gives what
 * the same chain gives eagerly, leaves tensors allocated between replays alone (the private pool),
 * and gives its memory back on close. Skipped without a GPU.
 */
class CudaGraphTest {
    private static final FluxDevice GPU = FluxDevice.cuda(0);

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
    }

    private static Tensor random(long seed, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return TensorData.floats(v, shape).to(GPU.toTorch(), ScalarType.Float);
    }

    private static long allocated() {
        torch_cuda.device_synchronize();
        return torch_cuda
                .getAllocator()
                .getDeviceStats((byte) 0)
                .allocated_bytes()
                .current();
    }

    @Test
    void replaysOverNewInputsLikeTheEagerChainAndSparesOtherTensors() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = random(1, 64, 128);
            Tensor w = random(2, 256, 128).mul(new Scalar(0.1));
            Tensor b = random(3, 256);
            // several intermediates, freed inside the capture: they stay in the graph's pool
            Supplier<Tensor> body = () -> torch.linear(x, w, new TensorOptional(b))
                    .tanh()
                    .mul(new Scalar(2.0))
                    .add(new Scalar(1.0));
            for (int i = 0; i < 2; i++) {
                try (PointerScope warm = new PointerScope()) {
                    body.get();
                }
            }
            // a first graph makes what the side stream keeps for the process (GEMM workspaces of
            // that stream, ~32 MiB), so that only the graph's own memory is compared below
            CudaGraph.capture(0, 1, body).close();
            long before = allocated();
            try (CudaGraph graph = CudaGraph.capture(0, 1, body)) {
                for (int step = 0; step < 3; step++) {
                    try (PointerScope stepScope = new PointerScope()) {
                        x.copy_(random(10 + step, 64, 128));
                        // allocated between replays: must not share an address with the graph's memory
                        Tensor bystander = torch.full(new long[] {64, 256}, new Scalar(7.0), x.options());
                        graph.replay();
                        Tensor eager = body.get();
                        double e = relError(graph.output(), eager);
                        System.out.printf("CUDA graph replay %d: %.2e vs eager%n", step, e);
                        assertThat(e).isLessThan(1e-6);
                        float[] by = toFloats(bystander);
                        assertThat(by).containsOnly(7f);
                        assertThat(bits(toFloats(graph.output()))).isNotEqualTo(bits(by));
                    }
                }
            }
            assertThat(allocated()).as("the pool is given back on close").isLessThanOrEqualTo(before);
        }
    }

    @Test
    void aFailingBodyEndsTheCaptureAndReleasesThePool() {
        try (PointerScope scope = new PointerScope()) {
            Tensor x = random(4, 8, 8);
            long before = allocated();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> CudaGraph.capture(0, 0, () -> {
                        x.mul(new Scalar(2.0));
                        throw new IllegalStateException("body failed");
                    }))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("body failed");
            assertThat(allocated()).isLessThanOrEqualTo(before);
            // the device is still usable on its default stream
            assertThat(toFloats(x.add(new Scalar(1.0)))).hasSize(64);
        }
    }
}
