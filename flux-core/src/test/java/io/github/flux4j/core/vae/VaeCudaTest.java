package io.github.flux4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.gguf.quant.Float16;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decoder on a CUDA device. Skipped unless the GPU natives and a GPU are present (CI runs the
 * CPU natives); run on the GPU host with the {@code -gpu} runtime ({@code shared/gpu-host/README.md}).
 */
class VaeCudaTest {
    private static final FluxDevice GPU = FluxDevice.cuda(0);
    /**
     * float32 on the GPU vs the CPU-made diffusers references: cuDNN convolutions run in TF32 by
     * default (PyTorch's {@code torch.backends.cudnn.allow_tf32 = True}, the same default in
     * LibTorch), a 10-bit mantissa. Observed 2.0e-4 to 3.0e-4 on an H100, images at most one step
     * apart.
     */
    static final double F32_TOL = 2e-3;
    /**
     * bf16 on the GPU vs the CPU-made float32 references. GPU bf16 kernels round at other places
     * than CPU ones, so the GPU result is another bf16 approximation of the float32 decode, about
     * as far from it as diffusers' own CPU bf16 decode (1.7e-2 to 1.9e-2), and √2 times that from
     * the CPU bf16 decode (observed 2.3e-2 to 2.7e-2 on an H100).
     */
    static final double BF16_TOL = 4e-2;
    /** Against diffusers' decode on the same GPU ({@code tools/reference/vae_cuda_refs.py}), when given. */
    static final double SAME_GPU_TOL = 1e-3;
    /** System property naming the {@code vae-cuda-reference.safetensors} made on this GPU, if any. */
    static final String CUDA_REFERENCE = "flux4j.vae.cudaReference";

    @TempDir
    Path tmp;

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
        Torch.preferCudnnAttention(GPU);
    }

    @Test
    void tinyVaeMatchesTheReferences() throws IOException {
        String sameGpu = System.getProperty(CUDA_REFERENCE);
        try (VaeReference ref = VaeReference.open();
                VaeReference gpuRef = sameGpu == null ? null : VaeReference.open(Path.of(sameGpu))) {
            for (ComputeDtype dt : List.of(ComputeDtype.F32, ComputeDtype.BF16)) {
                String tag = dt == ComputeDtype.F32 ? "f32" : "bf16";
                try (VaeDecoder vae = VaeDecoder.load(
                                VaeReference.folder(),
                                LoadOptions.defaults().withDevice(GPU).withDtype(dt));
                        PointerScope scope = new PointerScope()) {
                    for (String c : List.of("square", "wide", "tiled")) {
                        Tensor decoded = vae.decodeLatents(ref.get("input." + c), c.equals("tiled"));
                        assertThat(decoded.device().is_cuda()).isTrue();
                        RgbImage image = VaeImageProcessor.postprocess(decoded).get(0);
                        double relF32 = TextRefs.relError(decoded, ref.get("f32." + c + ".decoded"));
                        double relCpu = TextRefs.relError(decoded, ref.get(tag + "." + c + ".decoded"));
                        int[] px = VaeReference.pixelDiffs(image, ref.image(tag + "." + c + ".image"));
                        System.out.printf(
                                "VAE cuda %s %s: rel vs CPU f32 %.3e, vs CPU %s %.3e, image vs CPU max diff %d,"
                                        + " values differing %d%n",
                                tag, c, relF32, tag, relCpu, px[0], px[1]);
                        assertThat(relF32).as(tag + " " + c).isLessThan(dt == ComputeDtype.F32 ? F32_TOL : BF16_TOL);
                        if (gpuRef != null) {
                            double rel = TextRefs.relError(decoded, gpuRef.get(tag + "." + c + ".decoded"));
                            int[] g = VaeReference.pixelDiffs(image, gpuRef.image(tag + "." + c + ".image"));
                            System.out.printf(
                                    "VAE cuda %s %s: vs diffusers on this GPU rel %.3e, max abs %.3e, image max diff"
                                            + " %d, values differing %d%n",
                                    tag,
                                    c,
                                    rel,
                                    TextRefs.maxAbsError(decoded, gpuRef.get(tag + "." + c + ".decoded")),
                                    g[0],
                                    g[1]);
                            assertThat(rel).as("same GPU " + tag + " " + c).isLessThan(SAME_GPU_TOL);
                        }
                    }
                }
            }
        }
    }

    @Test
    void fluxSizedDecodeTimeAndMemory() throws IOException {
        Path dir = writeRandomFluxVae(tmp.resolve("vae"));
        try (VaeDecoder vae =
                VaeDecoder.load(dir, LoadOptions.defaults().withDevice(GPU).withDtype(ComputeDtype.BF16))) {
            for (int side : new int[] {128, 256}) {
                try (PointerScope scope = new PointerScope()) {
                    Tensor lat = torch.randn(
                                    new long[] {1, 16, side, side},
                                    new GeneratorOptional(torch.make_generator_cpu(7)),
                                    new TensorOptions(ScalarType.BFloat16))
                            .to(GPU.toTorch(), ScalarType.BFloat16);
                    for (boolean tiled : new boolean[] {false, true}) {
                        // Warm-up: cuDNN plans, and cuBLAS/cuDNN workspaces, which the libraries keep
                        // allocated for the process (not a leak of the decode).
                        vae.decodeLatents(lat, tiled).close();
                        torch_cuda.device_synchronize();
                        long before = allocated();
                        torch_cuda.getAllocator().resetPeakStats((byte) 0);
                        int runs = 3;
                        long t0 = System.nanoTime();
                        for (int i = 0; i < runs - 1; i++) {
                            vae.decodeLatents(lat, tiled).close();
                        }
                        Tensor img = vae.decodeLatents(lat, tiled);
                        torch_cuda.device_synchronize();
                        double ms = (System.nanoTime() - t0) / 1e6 / runs;
                        long peak = torch_cuda
                                .getAllocator()
                                .getDeviceStats((byte) 0)
                                .allocated_bytes()
                                .peak();
                        assertThat(img.shape()).containsExactly(1, 3, side * 8L, side * 8L);
                        try (PointerScope check = new PointerScope()) {
                            assertThat(torch.isfinite(img).all().item_bool()).isTrue();
                        }
                        System.out.printf(
                                "VAE cuda FLUX-size bf16 %dx%d %s: %.1f ms, peak above weights+latents %.0f MiB%n",
                                side * 8, side * 8, tiled ? "tiled" : "whole", ms, (peak - before) / 1048576.0);
                        img.close();
                        torch_cuda.device_synchronize();
                        // Only the weights and the latents stay allocated.
                        assertThat(allocated()).isEqualTo(before);
                    }
                }
            }
        }
    }

    private static long allocated() {
        return torch_cuda
                .getAllocator()
                .getDeviceStats((byte) 0)
                .allocated_bytes()
                .current();
    }

    // ------------------------------------------------------------------------------ random weights

    /** Every decoder tensor of a config, by diffusers name, with its shape. */
    static Map<String, long[]> decoderShapes(VaeConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long mid = c.midChannels();
        conv(m, "decoder.conv_in", mid, c.latentChannels(), 3);
        resnet(m, "decoder.mid_block.resnets.0", mid, mid);
        m.put("decoder.mid_block.attentions.0.group_norm.weight", new long[] {mid});
        m.put("decoder.mid_block.attentions.0.group_norm.bias", new long[] {mid});
        for (String l : List.of("to_q", "to_k", "to_v", "to_out.0")) {
            m.put("decoder.mid_block.attentions.0." + l + ".weight", new long[] {mid, mid});
            m.put("decoder.mid_block.attentions.0." + l + ".bias", new long[] {mid});
        }
        resnet(m, "decoder.mid_block.resnets.1", mid, mid);
        long prev = mid;
        for (int i = 0; i < c.levels(); i++) {
            long out = c.blockOutChannels().get(c.levels() - 1 - i);
            for (int j = 0; j <= c.layersPerBlock(); j++) {
                resnet(m, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? prev : out, out);
            }
            if (i != c.levels() - 1) {
                conv(m, "decoder.up_blocks." + i + ".upsamplers.0.conv", out, out, 3);
            }
            prev = out;
        }
        long first = c.blockOutChannels().get(0);
        m.put("decoder.conv_norm_out.weight", new long[] {first});
        m.put("decoder.conv_norm_out.bias", new long[] {first});
        conv(m, "decoder.conv_out", c.outChannels(), first, 3);
        return m;
    }

    private static void resnet(Map<String, long[]> m, String p, long in, long out) {
        m.put(p + ".norm1.weight", new long[] {in});
        m.put(p + ".norm1.bias", new long[] {in});
        conv(m, p + ".conv1", out, in, 3);
        m.put(p + ".norm2.weight", new long[] {out});
        m.put(p + ".norm2.bias", new long[] {out});
        conv(m, p + ".conv2", out, out, 3);
        if (in != out) {
            conv(m, p + ".conv_shortcut", out, in, 1);
        }
    }

    private static void conv(Map<String, long[]> m, String p, long out, long in, int k) {
        m.put(p + ".weight", new long[] {out, in, k, k});
        m.put(p + ".bias", new long[] {out});
    }

    /**
     * A diffusers folder of FLUX's VAE size (49.5M decoder parameters, BF16) with random weights:
     * uniform in ±1/sqrt(fan_in) like PyTorch's default init, GroupNorm scales 1 and shifts 0.
     */
    static Path writeRandomFluxVae(Path dir) throws IOException {
        java.nio.file.Files.createDirectories(dir);
        SplittableRandom rnd = new SplittableRandom(42);
        List<SafetensorsRewriter.Item> items = new ArrayList<>();
        for (Map.Entry<String, long[]> e : decoderShapes(VaeConfig.flux()).entrySet()) {
            long[] s = e.getValue();
            int n = 1;
            for (long d : s) {
                n = Math.multiplyExact(n, (int) d);
            }
            boolean norm = e.getKey().contains("norm");
            double fanIn = s.length == 1 ? 1 : (double) n / s[0];
            double bound = 1 / Math.sqrt(fanIn);
            ByteBuffer b = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                float v = norm
                        ? (e.getKey().endsWith("weight") ? 1f : 0f)
                        : (float) ((rnd.nextDouble() * 2 - 1) * (s.length == 1 ? 0.05 : bound));
                b.putShort(Float16.floatToBf16(v));
            }
            items.add(new SafetensorsRewriter.Item(e.getKey(), "BF16", s, b.array()));
        }
        SafetensorsRewriter.write(dir.resolve(VaeWeightSource.DIFFUSERS_WEIGHTS), items);
        java.nio.file.Files.writeString(dir.resolve("config.json"), """
                {"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
                 "in_channels": 3, "latent_channels": 16, "layers_per_block": 2, "norm_num_groups": 32,
                 "out_channels": 3, "sample_size": 1024, "scaling_factor": 0.3611, "shift_factor": 0.1159,
                 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
                 "use_post_quant_conv": false, "use_quant_conv": false}
                """);
        return dir;
    }
}
