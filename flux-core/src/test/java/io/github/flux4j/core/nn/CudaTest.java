package io.github.flux4j.core.nn;

import static io.github.flux4j.core.quant.TensorData.bits;
import static io.github.flux4j.core.quant.TensorData.read;
import static io.github.flux4j.core.quant.TensorData.toFloats;
import static io.github.flux4j.core.quant.TensorData.uint8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.quant.TensorData;
import io.github.flux4j.core.quant.TorchDequantizer;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.SdpaBackend;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The same guarantees on a CUDA device. Skipped unless the GPU natives and a GPU are present
 * (CI runs the CPU natives); run on the GPU host with the {@code -gpu} runtime.
 */
class CudaTest {
    private static final FluxDevice GPU = FluxDevice.cuda(0);
    private static final EnumSet<GgmlType> TYPES = EnumSet.of(
            GgmlType.F32,
            GgmlType.F16,
            GgmlType.BF16,
            GgmlType.Q4_0,
            GgmlType.Q4_1,
            GgmlType.Q5_0,
            GgmlType.Q5_1,
            GgmlType.Q8_0,
            GgmlType.Q2_K,
            GgmlType.Q3_K,
            GgmlType.Q4_K,
            GgmlType.Q5_K,
            GgmlType.Q6_K,
            GgmlType.IQ4_NL,
            GgmlType.IQ4_XS);

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
    }

    @Test
    void dequantizationOnTheGpuIsBitExactInBothArithmetics() {
        try (PointerScope scope = new PointerScope()) {
            for (GgmlType type : TYPES) {
                Tensor raw = uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks")))
                        .to(GPU.toTorch(), ScalarType.Byte);
                float[] expected = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
                Tensor out = TorchDequantizer.dequantize(raw, type, new long[] {expected.length}, ScalarType.Float);
                assertThat(out.device().is_cuda()).isTrue();
                assertThat(bits(toFloats(out))).as("%s exact", type).isEqualTo(bits(expected));
                if (type != GgmlType.F32 && type != GgmlType.F16) {
                    float[] bf16 = TensorData.readBfloat16s(TensorData.DIFFUSERS_REFERENCE.resolve(type + ".bf16"));
                    Tensor d = TorchDequantizer.dequantize(
                            raw,
                            type,
                            new long[] {expected.length},
                            ScalarType.BFloat16,
                            DequantArithmetic.FLOAT16_LIKE_DIFFUSERS);
                    assertThat(bits(toFloats(d))).as("%s diffusers", type).isEqualTo(bits(bf16));
                }
            }
        }
    }

    @Test
    void quantizedLinearOnTheGpuMatchesTheCpu() {
        GgmlType type = GgmlType.Q4_K;
        byte[] blocks = read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks"));
        ByteBuffer direct = ByteBuffer.allocateDirect(blocks.length).put(blocks).flip();
        float[] w = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        long out = w.length / 256;
        try (PointerScope scope = new PointerScope();
                LinearOp gpu = Linears.fromGguf(type, direct, out, 256, null, null, GPU, ComputeDtype.F32);
                DenseLinear cpu = new DenseLinear(TensorData.floats(w, out, 256), null)) {
            assertThat(((QuantizedLinear) gpu).rawBlocks().device().is_cuda()).isTrue();
            Tensor x = TensorData.floats(QuantizedLinearTest.random(8 * 256, 5), 8, 256);
            float[] yGpu = toFloats(gpu.forward(x.to(GPU.toTorch(), ScalarType.Float)));
            float[] yCpu = toFloats(cpu.forward(x));
            for (int i = 0; i < yCpu.length; i++) {
                assertThat(yGpu[i]).isCloseTo(yCpu[i], within(1e-4f * (1 + Math.abs(yCpu[i]))));
            }
        }
    }

    @Test
    void geluEpilogueMatchesLinearThenGelu() {
        // the default (-Dflux4j.cuda.geluEpilogue unset or true): one _addmm_activation, cuBLASLt's
        // GELU epilogue on the float32 accumulator, against the GEMM, rounded, then the GELU kernel
        GgmlType type = GgmlType.Q8_0;
        float[] w = TensorData.readFloats(TensorData.GGUF_REFERENCE.resolve(type + ".f32"));
        long out = w.length / 256;
        for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.BFloat16}) {
            try (PointerScope scope = new PointerScope();
                    QuantizedLinear q = new QuantizedLinear(
                            type,
                            uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks")))
                                    .to(GPU.toTorch(), ScalarType.Byte),
                            out,
                            256,
                            TensorData.floats(QuantizedLinearTest.random(out, 8), out)
                                    .to(GPU.toTorch(), dt),
                            dt,
                            DequantArithmetic.EXACT_FLOAT32)) {
                Tensor x = TensorData.floats(QuantizedLinearTest.random(2 * 40 * 256, 7), 2, 40, 256)
                        .to(GPU.toTorch(), dt);
                Tensor unfused;
                Tensor fused;
                try {
                    System.setProperty(io.github.flux4j.core.cuda.CudaKernels.GELU_EPILOGUE_PROPERTY, "false");
                    unfused = q.forwardGeluTanh(x);
                    System.setProperty(io.github.flux4j.core.cuda.CudaKernels.GELU_EPILOGUE_PROPERTY, "true");
                    fused = q.forwardGeluTanh(x);
                } finally {
                    System.clearProperty(io.github.flux4j.core.cuda.CudaKernels.GELU_EPILOGUE_PROPERTY);
                }
                assertThat(fused.sizes().vec().get()).containsExactly(2, 40, out);
                double rel = io.github.flux4j.core.testing.TextRefs.relError(fused, unfused);
                System.out.printf("CUDA GELU epilogue vs linear+gelu, %s: %.2e relative%n", dt, rel);
                assertThat(rel).as(dt.toString()).isLessThan(dt == ScalarType.Float ? 1e-5 : 1e-2);
            }
        }
    }

    @Test
    void forwardsDoNotGrowGpuMemory() {
        GgmlType type = GgmlType.Q6_K;
        try (PointerScope setup = new PointerScope();
                QuantizedLinear layer = new QuantizedLinear(
                        type,
                        uint8(read(TensorData.GGUF_REFERENCE.resolve(type + ".blocks")))
                                .to(GPU.toTorch(), ScalarType.Byte),
                        64,
                        256,
                        null,
                        ScalarType.BFloat16,
                        DequantArithmetic.EXACT_FLOAT32)) {
            Tensor x = TensorData.floats(QuantizedLinearTest.random(16 * 256, 6), 16, 256)
                    .to(GPU.toTorch(), ScalarType.BFloat16);
            for (int i = 0; i < 50; i++) {
                try (PointerScope s = new PointerScope()) {
                    layer.forward(x);
                }
            }
            torch_cuda.device_synchronize();
            long before = torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();
            for (int i = 0; i < 1000; i++) {
                try (PointerScope s = new PointerScope()) {
                    layer.forward(x);
                }
            }
            torch_cuda.device_synchronize();
            long after = torch_cuda
                    .getAllocator()
                    .getDeviceStats((byte) 0)
                    .allocated_bytes()
                    .current();
            assertThat(after - before).isZero();
        }
    }

    @Test
    void cudnnFirstAttention() {
        var before = Torch.sdpaPriority();
        try (PointerScope scope = new PointerScope()) {
            Torch.preferCudnnAttention(GPU);
            assertThat(Torch.sdpaPriority().get(0)).isEqualTo(SdpaBackend.CUDNN);
            TensorOptions bf16 = new TensorOptions(ScalarType.BFloat16).device(new DeviceOptional(GPU.toTorch()));
            Tensor q = torch.randn(new long[] {1, 24, 512, 128}, bf16);
            Tensor a = Functional.sdpa(q, q, q);
            assertThat(a.sizes().vec().get()).containsExactly(1, 24, 512, 128);
            Torch.emptyCudaCache();
        } finally {
            Torch.setSdpaPriority(before.toArray(SdpaBackend[]::new));
        }
    }

    /** Not an assertion: prints the cost of per-forward dequantization at FLUX's largest shape. */
    @Test
    void timingOfAFluxSizedQuantizedLinear() {
        long out = 12288;
        long in = 3072;
        for (GgmlType type : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.IQ4_XS}) {
            for (DequantArithmetic arithmetic : DequantArithmetic.values()) {
                try (PointerScope scope = new PointerScope()) {
                    TensorOptions u8 = new TensorOptions(ScalarType.Byte).device(new DeviceOptional(GPU.toTorch()));
                    Tensor raw = torch.randint(256, new long[] {type.byteSize(out * in)}, u8);
                    TensorOptions bf16 =
                            new TensorOptions(ScalarType.BFloat16).device(new DeviceOptional(GPU.toTorch()));
                    Tensor x = torch.randn(new long[] {4096, in}, bf16);
                    try (QuantizedLinear layer =
                            new QuantizedLinear(type, raw, out, in, null, ScalarType.BFloat16, arithmetic)) {
                        Tensor dense = layer.dequantizeWeight();
                        double tDeq = time(() -> layer.dequantizeWeight());
                        double tDense = time(() -> torch.linear(x, dense));
                        double tFwd = time(() -> layer.forward(x));
                        System.out.printf(
                                "CUDA %s %-22s %dx%d: dequantize %.3f ms, dense linear %.3f ms, "
                                        + "quantized forward %.3f ms, peak alloc %.0f MiB%n",
                                type,
                                arithmetic,
                                out,
                                in,
                                tDeq,
                                tDense,
                                tFwd,
                                torch_cuda
                                                .getAllocator()
                                                .getDeviceStats((byte) 0)
                                                .allocated_bytes()
                                                .peak()
                                        / 1048576.0);
                    }
                }
            }
        }
    }

    private static double time(Runnable op) {
        for (int i = 0; i < 3; i++) {
            try (PointerScope s = new PointerScope()) {
                op.run();
            }
        }
        torch_cuda.device_synchronize();
        int n = 20;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            try (PointerScope s = new PointerScope()) {
                op.run();
            }
        }
        torch_cuda.device_synchronize();
        return (System.nanoTime() - t0) / 1e6 / n;
    }
}
