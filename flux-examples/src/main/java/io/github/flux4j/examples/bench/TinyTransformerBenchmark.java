package io.github.flux4j.examples.bench;

import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.examples.tools.SyntheticFluxGguf;
import io.github.flux4j.gguf.GgmlType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * CPU forward time of the tiny FLUX test model (hidden 256 = 2 heads x 128, MLP 1024, 2 double +
 * 2 single blocks, context 128, vector 96, guidance; {@link SyntheticFluxGguf#tiny()}) per weight
 * type of the block matrices and per compute dtype. Each file is written by
 * {@link SyntheticFluxGguf} (random weights; embedders F16, or the block type when F32/BF16),
 * loaded with {@link GgufTransformer#load} on the CPU, then run {@code --warmup} times untimed and
 * {@code --iters} times timed with random inputs of the pipeline's shapes. Prints a Markdown table
 * of median / p90 / min forward time.
 *
 * <p>What this measures on such a small model is mostly overhead: the per-forward dequantization of
 * the quantized block matrices, LibTorch dispatch, and JavaCPP's per-tensor wrappers, not GEMM
 * throughput.
 */
@Command(
        name = "tiny-transformer-benchmark",
        mixinStandardHelpOptions = true,
        description = "CPU forward time of the tiny FLUX model per weight type and compute dtype.")
public final class TinyTransformerBenchmark implements Callable<Integer> {
    @Option(
            names = "--types",
            split = ",",
            description = "Block-matrix weight types (default " + "F32,BF16,Q8_0,Q4_0,Q5_1,Q4_K,Q6_K).",
            defaultValue = "F32,BF16,Q8_0,Q4_0,Q5_1,Q4_K,Q6_K")
    private List<GgmlType> types = List.of();

    @Option(
            names = "--dtypes",
            split = ",",
            description = "Compute dtypes (default F32,BF16).",
            defaultValue = "F32,BF16")
    private List<ComputeDtype> dtypes = List.of();

    @Option(
            names = "--arithmetic",
            description = "Dequantization arithmetic (default EXACT_FLOAT32).",
            defaultValue = "EXACT_FLOAT32")
    private DequantArithmetic arithmetic = DequantArithmetic.EXACT_FLOAT32;

    @Option(
            names = "--size",
            description = "WIDTHxHEIGHT in pixels (default 512x512: 1024 image tokens).",
            defaultValue = "512x512")
    private String size = "512x512";

    @Option(names = "--txt-tokens", description = "Text tokens (default 128).", defaultValue = "128")
    private int txtTokens = 128;

    @Option(names = "--warmup", description = "Untimed forwards per configuration (default 5).", defaultValue = "5")
    private int warmup = 5;

    @Option(names = "--iters", description = "Timed forwards per configuration (default 30).", defaultValue = "30")
    private int iters = 30;

    @Option(names = "--threads", description = "LibTorch intra-op threads (default: LibTorch's choice).")
    private @Nullable Integer threads;

    @Option(names = "--work", description = "Folder for the GGUF files (default: a temporary folder, deleted).")
    private @Nullable Path work;

    /** Runs the benchmark and exits with its status. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new TinyTransformerBenchmark()).execute(args));
    }

    private record Row(GgmlType type, ComputeDtype dtype, long fileBytes, double loadMs, Stats stats) {}

    @Override
    public Integer call() throws Exception {
        types = types.stream().distinct().toList();
        dtypes = dtypes.stream().distinct().toList();
        Torch.init();
        if (threads != null) {
            Torch.setIntraOpThreads(threads);
        }
        String[] wh = size.toLowerCase(Locale.ROOT).split("x");
        int w = Integer.parseInt(wh[0].strip());
        int h = Integer.parseInt(wh[1].strip());
        FluxConfig config = SyntheticFluxGguf.tiny();
        boolean temp = work == null;
        Path dir = work == null ? Files.createTempDirectory("tiny-flux-bench") : work;
        Files.createDirectories(dir);
        System.out.printf(
                Locale.ROOT,
                "tiny FLUX (hidden %d, %d heads, %d+%d blocks) on the CPU, %s, %d text tokens, "
                        + "%d LibTorch threads, %d warm-up + %d timed forwards, %s%n",
                config.hiddenSize(),
                config.numHeads(),
                config.depth(),
                config.depthSingleBlocks(),
                size,
                txtTokens,
                Torch.intraOpThreads(),
                warmup,
                iters,
                arithmetic);
        List<Row> rows = new ArrayList<>();
        try {
            for (GgmlType type : types) {
                Path file = dir.resolve("tiny-flux-" + type + ".gguf");
                SyntheticFluxGguf.write(file, config, new SyntheticFluxGguf.Options(type, GgmlType.F16, 0, 1, false));
                long bytes = Files.size(file);
                for (ComputeDtype dtype : dtypes) {
                    LoadOptions opts = new LoadOptions(FluxDevice.cpu(), dtype, arithmetic, true);
                    long t0 = System.nanoTime();
                    try (FluxTransformer model = GgufTransformer.load(file, opts);
                            FluxInputs in = new FluxInputs(config, FluxDevice.cpu(), w, h, txtTokens, 42)) {
                        double loadMs = (System.nanoTime() - t0) / 1e6;
                        for (int i = 0; i < warmup; i++) {
                            try (PointerScope scope = new PointerScope()) {
                                in.forward(model);
                            }
                        }
                        double[] times = new double[iters];
                        boolean finite = true;
                        for (int i = 0; i < iters; i++) {
                            try (PointerScope scope = new PointerScope()) {
                                long s = System.nanoTime();
                                Tensor out = in.forward(model);
                                times[i] = (System.nanoTime() - s) / 1e6;
                                if (i == 0) {
                                    finite = torch.isfinite(out).all().item_bool();
                                }
                            }
                        }
                        Stats st = Stats.of(times);
                        rows.add(new Row(type, dtype, bytes, loadMs, st));
                        System.out.printf(
                                Locale.ROOT,
                                "  %-5s weights, %-4s compute: median %7.2f ms, p90 %7.2f ms, min %7.2f ms "
                                        + "(load %.0f ms)%s%n",
                                type,
                                dtype,
                                st.median(),
                                st.p90(),
                                st.min(),
                                loadMs,
                                finite ? "" : "  OUTPUT NOT FINITE");
                    }
                }
                if (temp) {
                    Files.deleteIfExists(file);
                }
            }
        } finally {
            if (temp) {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                }
                Files.deleteIfExists(dir);
            }
        }
        System.out.println();
        StringBuilder head = new StringBuilder("| block weights | file MB |");
        StringBuilder rule = new StringBuilder("| --- | --- |");
        for (ComputeDtype d : dtypes) {
            head.append(' ')
                    .append(d)
                    .append(" median ms | ")
                    .append(d)
                    .append(" p90 ms | ")
                    .append(d)
                    .append(" min ms |");
            rule.append(" --- | --- | --- |");
        }
        System.out.println(head);
        System.out.println(rule);
        for (GgmlType type : types) {
            StringBuilder line = new StringBuilder();
            for (Row r : rows) {
                if (r.type() != type) {
                    continue;
                }
                if (line.isEmpty()) {
                    line.append(String.format(Locale.ROOT, "| %s | %.1f |", type, r.fileBytes() / 1e6));
                }
                line.append(String.format(
                        Locale.ROOT,
                        " %.2f | %.2f | %.2f |",
                        r.stats().median(),
                        r.stats().p90(),
                        r.stats().min()));
            }
            System.out.println(line);
        }
        return 0;
    }
}
