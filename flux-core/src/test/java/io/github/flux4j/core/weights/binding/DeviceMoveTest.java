package io.github.flux4j.core.weights.binding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.nn.DenseLinear;
import io.github.flux4j.core.nn.LinearOp;
import io.github.flux4j.core.nn.QuantizedLinear;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.DeviceMovable;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.vae.VaeDecoder;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.gguf.GgmlType;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LoadedWeights#moveTo} and the models' {@link DeviceMovable#moveTo}: weights move in place
 * ({@code set_data}), the layers holding them keep working. On a CPU-only machine every move is a
 * no-op; the CUDA tests are skipped there.
 */
class DeviceMoveTest {
    @TempDir
    Path dir;

    private static Tensor arange(long n) {
        return torch.arange(new Scalar(0), new Scalar(n), new TensorOptions(ScalarType.Float))
                .div(new Scalar(n));
    }

    private static float[] values(Tensor t) {
        try (PointerScope scope = new PointerScope()) {
            Tensor c = t.to(new Device("cpu"), ScalarType.Float).contiguous();
            float[] out = new float[(int) c.numel()];
            c.data_ptr_float().get(out);
            return out;
        }
    }

    @Test
    void setDataSwapsTheStorageUnderTheLayer() {
        // The mechanism moveTo relies on: the layer keeps its Tensor object, set_data swaps what it holds.
        try (PointerScope scope = new PointerScope()) {
            Tensor w = arange(12).view(3, 4);
            DenseLinear lin = new DenseLinear(w, null);
            Tensor x = torch.ones(new long[] {1, 4}, new TensorOptions(ScalarType.Float));
            float[] before = values(lin.forward(x));
            w.__dispatch_set_data(w.mul(new Scalar(2)));
            float[] after = values(lin.forward(x));
            for (int i = 0; i < before.length; i++) {
                assertThat(after[i]).isEqualTo(2 * before[i]);
            }
            assertThat(lin.weight()).isSameAs(w);
            lin.close();
        }
    }

    @Test
    void loadedWeightsTrackEveryTensorAndMoveToTheCpuAsANoOp() {
        LoadedWeights weights = new LoadedWeights(List.of());
        Tensor wq = torch.zeros(new long[] {GgmlType.Q8_0.byteSize(4L * 32)}, new TensorOptions(ScalarType.Byte));
        weights.add(
                new QuantizedLinear(
                        GgmlType.Q8_0, wq, 4, 32, arange(4), ScalarType.Float, DequantArithmetic.EXACT_FLOAT32),
                1);
        weights.add(new DenseLinear(arange(8).view(2, 4), null), 1);
        weights.add(arange(5), 1);
        assertThat(weights.devices()).containsExactly(FluxDevice.cpu());
        weights.moveTo(FluxDevice.cpu(), true);
        assertThat(weights.devices()).containsExactly(FluxDevice.cpu());
        assertThat(weights.hostCopyBytes()).isZero();
        weights.close();
        assertThat(weights.devices()).isEmpty();
        assertThatThrownBy(() -> weights.moveTo(FluxDevice.cpu(), false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void unknownLinearKindsAreRefused() {
        LoadedWeights weights = new LoadedWeights(List.of());
        LinearOp other = new LinearOp() {
            @Override
            public Tensor forward(Tensor x) {
                return x;
            }

            @Override
            public long inFeatures() {
                return 1;
            }

            @Override
            public long outFeatures() {
                return 1;
            }

            @Override
            public GgmlType quantType() {
                return null;
            }

            @Override
            public void close() {}
        };
        assertThatThrownBy(() -> weights.add(other, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot track");
    }

    @Test
    void everyModelMovesToTheCpuInPlaceAndRefusesOnceClosed() throws IOException, URISyntaxException {
        Path gguf = TinyFluxFiles.write(TinyFluxFiles.Variant.DEV_Q8_0, dir);
        LoadOptions text = LoadOptions.defaults().withDtype(ComputeDtype.F32);
        List<DeviceMovable> models = List.of(
                GgufTransformer.load(gguf, LoadOptions.defaults().withDtype(ComputeDtype.F32)),
                ClipTextModel.load(TextRefs.resource("clip"), text),
                T5EncoderModel.load(TextRefs.resource("t5"), text),
                VaeDecoder.load(
                        Path.of(Objects.requireNonNull(getClass().getResource("/reference/vae/tiny-vae"))
                                .toURI()),
                        LoadOptions.defaults().withDtype(ComputeDtype.F32)));
        for (DeviceMovable m : models) {
            assertThat(m.device()).isEqualTo(FluxDevice.cpu());
            m.moveTo(FluxDevice.cpu(), true);
            m.moveTo(FluxDevice.cpu());
            assertThat(m.device()).isEqualTo(FluxDevice.cpu());
        }
        for (DeviceMovable m : models) {
            try {
                ((AutoCloseable) m).close();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            assertThatThrownBy(() -> m.moveTo(FluxDevice.cpu()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        }
    }

    /** A forward's inputs for the tiny dev transformer, on the CPU, in the caller's scope. */
    private record Inputs(Tensor img, Tensor imgIds, Tensor txt, Tensor txtIds, Tensor t, Tensor y) {
        static Inputs tiny() {
            TensorOptions f32 = new TensorOptions(ScalarType.Float);
            return new Inputs(
                    arange(24 * 64).view(1, 24, 64),
                    torch.zeros(new long[] {24, 3}, f32),
                    arange(8 * 128).view(1, 8, 128),
                    torch.zeros(new long[] {8, 3}, f32),
                    torch.full(new long[] {1}, new Scalar(0.5), f32),
                    arange(96).view(1, 96));
        }

        /** {@code model}'s forward on these inputs (guidance = timestep), as float32 values. */
        float[] run(FluxTransformer model) {
            return values(model.forward(img, imgIds, txt, txtIds, t, y, t));
        }
    }

    /** A tiny dev Q4_K transformer loaded in float32 on the CPU and another on the GPU. */
    private FluxTransformer[] cpuAndCuda(FluxDevice cuda) throws IOException {
        Path gguf = TinyFluxFiles.write(TinyFluxFiles.Variant.DEV_Q4_K, dir);
        LoadOptions f32 = LoadOptions.defaults().withDtype(ComputeDtype.F32);
        FluxTransformer onCpu = GgufTransformer.load(gguf, f32);
        try {
            return new FluxTransformer[] {onCpu, GgufTransformer.load(gguf, f32.withDevice(cuda))};
        } catch (RuntimeException | Error e) {
            onCpu.close();
            throw e;
        }
    }

    @Test
    void cudaRoundTripKeepsTheHostCopyAndTheOutput() throws IOException {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device");
        FluxDevice cuda = FluxDevice.cuda(0);
        FluxTransformer[] models = cpuAndCuda(cuda);
        try (FluxTransformer onCpu = models[0];
                FluxTransformer onCuda = models[1];
                PointerScope scope = new PointerScope()) {
            Inputs in = Inputs.tiny();
            float[] expected = in.run(onCuda);
            torch_cuda.device_synchronize();
            long base = torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();

            onCpu.moveTo(cuda, true);
            assertThat(onCpu.device()).isEqualTo(cuda);
            assertThat(in.run(onCpu)).containsExactly(expected);
            long onDevice = torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();
            assertThat(onDevice - base).isGreaterThanOrEqualTo(onCpu.weightBytes() / 2);

            onCpu.moveTo(FluxDevice.cpu(), true);
            assertThat(onCpu.device()).isEqualTo(FluxDevice.cpu());
            Torch.emptyCudaCache();
            long after = torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();
            assertThat(after).isLessThanOrEqualTo(base + (1 << 20));
            // Back on the CPU, it computes as before (within the CPU/GPU kernel difference).
            float[] cpu = in.run(onCpu);
            assertThat(cpu).hasSameSizeAs(expected);
            assertThat(Set.of(onCpu.device())).containsExactly(FluxDevice.cpu());
        }
    }

    @Test
    void pinnedHostWeightsMoveToTheGpuAndBackWithTheSameOutput() throws IOException {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device");
        FluxDevice cuda = FluxDevice.cuda(0);
        FluxTransformer[] models = cpuAndCuda(cuda);
        try (FluxTransformer pinned = models[0];
                FluxTransformer onCuda = models[1];
                PointerScope scope = new PointerScope()) {
            Inputs in = Inputs.tiny();
            float[] cpuBefore = in.run(pinned);
            float[] expected = in.run(onCuda);

            long bytes = pinned.pinHostMemory();
            // every weight (packed blocks and float tensors), each aligned to 256 bytes
            assertThat(bytes).isGreaterThanOrEqualTo(pinned.weightBytes());
            assertThat(pinned.pinHostMemory()).isZero(); // once
            // pinned, still on the CPU: the same bits
            assertThat(in.run(pinned)).containsExactly(cpuBefore);
            for (int round = 0; round < 3; round++) {
                pinned.moveTo(cuda, true);
                assertThat(in.run(pinned)).containsExactly(expected);
                pinned.moveTo(FluxDevice.cpu(), true);
                assertThat(in.run(pinned)).containsExactly(cpuBefore);
            }
            // a one-way move frees the page-locked memory
            pinned.moveTo(cuda);
            assertThat(in.run(pinned)).containsExactly(expected);
        }
    }
}
