package io.github.flux4j.examples.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.PinnedHostMemory;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.examples.ByteSizes;
import io.github.flux4j.examples.FileTrees;
import io.github.flux4j.examples.Main;
import io.github.flux4j.examples.tools.SyntheticFluxBase;
import io.github.flux4j.examples.tools.SyntheticFluxGguf;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.pipeline.GenerationOptions;
import io.github.flux4j.pipeline.GenerationResult;
import io.github.flux4j.pipeline.Offload;
import io.github.flux4j.pipeline.Timings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.cuda.DeviceStats;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The whole FLUX pipeline end to end (text encoding, denoising, VAE decode) per memory mode:
 * {@link Offload#NONE}, {@link Offload#MODEL}, {@link Offload#SEQUENTIAL} and VRAM budgets
 * ({@code FluxPipeline.Builder.vramBudget}), each at several image sizes and step counts
 * (default 1024x1024 with 28 steps and 680x496 with 60; 680 is rounded to 672 as diffusers
 * does). Per configuration: load time, seconds per stage (text, denoising, per step, decode,
 * model moves), peak device memory (the CUDA caching allocator's peak allocated and reserved
 * bytes, reset before each generation), the host's peak resident memory ({@code VmHWM} of
 * {@code /proc/self/status}, reset per mode through {@code /proc/self/clear_refs} where the kernel
 * allows), and the plan the pipeline printed. A configuration that fails (out of memory, a budget
 * too small) is recorded with its error, and the next one runs. Prints a table and writes JSON.
 *
 * <p>Without {@code --transformer} and {@code --base-model} it first writes a synthetic FLUX.1-dev
 * ({@link SyntheticFluxGguf} Q8_0 and {@link SyntheticFluxBase}: about 23 GB) to {@code --work}
 * (default {@code /dev/shm} when it has room, else the temporary folder) and deletes them
 * afterwards unless {@code --keep}. Each generation is preceded by a one-step warm-up at the same
 * size (not reported). Also runs on the CPU with {@code --device cpu --size tiny} to check the
 * program.
 */
@Command(
        name = "pipeline-benchmark",
        mixinStandardHelpOptions = true,
        description = "Times the whole FLUX pipeline per memory mode (offload none/model/sequential, VRAM budgets).")
public final class PipelineBenchmark implements Callable<Integer> {
    @Option(names = "--transformer", description = "Transformer GGUF (default: a synthetic FLUX.1-dev Q8_0).")
    private @Nullable Path transformer;

    @Option(names = "--base-model", description = "Base model folder (default: a synthetic FLUX.1-dev base).")
    private @Nullable Path baseModel;

    @Option(names = "--size", description = "Synthetic model size: dev (default) or tiny.", defaultValue = "dev")
    private String size = "dev";

    @Option(
            names = "--generate",
            description = "Block type of the synthetic GGUF (default Q8_0).",
            defaultValue = "Q8_0")
    private GgmlType generate = GgmlType.Q8_0;

    @Option(
            names = "--modes",
            split = ",",
            description = "none, model, sequential and budgets such as 12G (default "
                    + "none,model,sequential,12G,8G,6G,4G).",
            defaultValue = "none,model,sequential,12G,8G,6G,4G")
    private List<String> modes = new ArrayList<>();

    @Option(
            names = "--runs",
            split = ",",
            description = "WIDTHxHEIGHT:STEPS (default 1024x1024:28,680x496:60).",
            defaultValue = "1024x1024:28,680x496:60")
    private List<String> runs = new ArrayList<>();

    @Option(
            names = "--prompt",
            description = "The prompt.",
            defaultValue = "a lighthouse on a cliff at dusk, oil painting")
    private String prompt = "";

    @Option(names = "--seed", description = "Noise seed (default 42).", defaultValue = "42")
    private long seed = 42;

    @Option(names = "--device", description = "cuda:0 (default) or cpu.", defaultValue = "cuda:0")
    private String device = "cuda:0";

    @Option(names = "--dtype", description = "Compute dtype (default BF16).", defaultValue = "BF16")
    private ComputeDtype dtype = ComputeDtype.BF16;

    @Option(names = "--work", description = "Folder for the synthetic model.")
    private @Nullable Path work;

    @Option(names = "--keep", description = "Keep the synthetic model.")
    private boolean keep;

    @Option(names = "--threads", description = "LibTorch intra-op threads (CPU).")
    private @Nullable Integer threads;

    @Option(names = "--json", description = "Write the results here.")
    private @Nullable Path json;

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        Main.configureNativeMemory();
        System.exit(new CommandLine(new PipelineBenchmark())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(args));
    }

    private static final double GIB = 1024.0 * 1024 * 1024;

    @Override
    public Integer call() throws Exception {
        FluxDevice dev = FluxDevice.parse(device);
        if (threads != null) {
            Torch.setIntraOpThreads(threads);
        }
        List<int[]> parsedRuns = new ArrayList<>();
        for (String r : runs) {
            parsedRuns.add(parseRun(r));
        }
        Path folder = null;
        Path gguf = transformer;
        Path base = baseModel;
        Map<String, Object> result = new LinkedHashMap<>();
        try {
            if (gguf == null || base == null) {
                folder = Files.createTempDirectory(work != null ? work : defaultWork(), "flux4j-pipeline-bench-");
                boolean tiny = size.equals("tiny");
                if (gguf == null) {
                    gguf = folder.resolve("flux-synthetic-" + generate + ".gguf");
                    long t0 = System.nanoTime();
                    FluxConfig c = tiny ? SyntheticFluxGguf.tiny() : FluxConfig.dev();
                    SyntheticFluxGguf.write(gguf, c, SyntheticFluxGguf.Options.of(generate));
                    System.out.printf(Locale.ROOT, "wrote %s in %.1f s%n", gguf, (System.nanoTime() - t0) / 1e9);
                }
                if (base == null) {
                    base = folder.resolve("flux-synthetic-base");
                    long t0 = System.nanoTime();
                    SyntheticFluxBase.write(
                            base,
                            tiny ? SyntheticFluxBase.Spec.tiny() : SyntheticFluxBase.Spec.fluxDev(),
                            0,
                            Runtime.getRuntime().availableProcessors());
                    System.out.printf(Locale.ROOT, "wrote %s in %.1f s%n", base, (System.nanoTime() - t0) / 1e9);
                }
            }
            result.put("transformer", gguf.toString());
            result.put("baseModel", base.toString());
            result.put("device", dev.toString());
            result.put("dtype", dtype.toString());
            result.put("prompt", prompt);
            result.put("seed", seed);
            if (dev.isCuda()) {
                // what a streamed step is bound by when the copies do not hide behind the compute
                double gbps = hostToDeviceGBps(dev);
                result.put("hostToDeviceGBps", gbps);
                System.out.printf(Locale.ROOT, "host to device: %.1f GB/s (page-locked, 1 GiB copies)%n", gbps);
            }
            List<Map<String, Object>> rows = new ArrayList<>();
            result.put("results", rows);
            for (String mode : modes) {
                rows.addAll(runMode(mode, gguf, base, dev, parsedRuns));
            }
            printTable(rows);
        } finally {
            if (folder != null && !keep) {
                FileTrees.deleteTree(folder);
            }
        }
        if (json != null) {
            Path parent = json.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(json.toFile(), result);
            System.out.println("wrote " + json);
        }
        return 0;
    }

    private List<Map<String, Object>> runMode(String mode, Path gguf, Path base, FluxDevice dev, List<int[]> runList) {
        List<Map<String, Object>> rows = new ArrayList<>();
        // The previous mode's pipeline is closed: collect, so that the file pages its buffers
        // mapped are unmapped and do not count against this mode.
        System.gc();
        long hostAtStart = statusBytes("VmRSS:");
        boolean hostReset = resetHostPeak();
        FluxPipeline.Builder b = FluxPipeline.builder()
                .transformer(gguf)
                .baseModel(base)
                .device(dev)
                .computeDtype(dtype);
        String m = mode.strip().toLowerCase(Locale.ROOT);
        Long budget = null;
        switch (m) {
            case "none" -> b.offload(Offload.NONE);
            case "model" -> b.offload(Offload.MODEL);
            case "sequential" -> b.offload(Offload.SEQUENTIAL);
            default -> {
                budget = ByteSizes.parse(m);
                b.vramBudget(budget);
            }
        }
        emptyCache(dev);
        long t0 = System.nanoTime();
        try (FluxPipeline p = b.build()) {
            double load = (System.nanoTime() - t0) / 1e9;
            // where the host peak comes from: loading and pinning (here) or generating (later)
            long hostAfterLoad = statusBytes("VmRSS:");
            long hostPeakAfterLoad = hostPeakBytes();
            String plan = p.describeMemoryPlan();
            System.out.println("== " + mode + " (loaded in " + String.format(Locale.ROOT, "%.1f s", load) + ")");
            System.out.println(plan);
            for (int[] r : runList) {
                Map<String, Object> row = row(mode, budget, r);
                row.put("loadSeconds", load);
                row.put("plan", plan);
                try {
                    GenerationOptions warm = GenerationOptions.builder()
                            .size(r[1], r[0])
                            .steps(1)
                            .seed(seed)
                            .maxSequenceLength(GenerationOptions.MAX_SEQUENCE_LENGTH)
                            .build();
                    p.generate(prompt, warm);
                    // what the first generation adds to the host (library kernels loaded, NVRTC
                    // compiling, cuDNN plans), apart from what the timed one adds afterwards
                    row.put("hostRssAfterWarmupGiB", statusBytes("VmRSS:") / GIB);
                    row.put("hostPeakRssAfterWarmupGiB", hostPeakBytes() / GIB);
                    resetPeak(dev);
                    GenerationOptions opts = GenerationOptions.builder()
                            .size(r[1], r[0])
                            .steps(r[2])
                            .seed(seed)
                            .build();
                    GenerationResult res = p.generate(prompt, opts);
                    Timings t = res.timings();
                    row.put("width", res.width());
                    row.put("height", res.height());
                    row.put("textSeconds", secs(t.textEncoding()));
                    row.put("denoiseSeconds", secs(t.denoising()));
                    row.put("stepSeconds", secs(t.meanStep()));
                    row.put("decodeSeconds", secs(t.decode()));
                    row.put("modelMoveSeconds", secs(t.modelMoves()));
                    row.put("totalSeconds", secs(t.total()));
                    long[] peak = peak(dev);
                    if (peak != null) {
                        row.put("peakAllocatedGiB", peak[0] / GIB);
                        row.put("peakReservedGiB", peak[1] / GIB);
                        if (budget != null) {
                            row.put("withinBudget", peak[0] <= budget);
                        }
                    }
                } catch (RuntimeException | OutOfMemoryError e) {
                    row.put(
                            "error",
                            String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString()));
                    System.out.println("  " + r[0] + "x" + r[1] + ": " + row.get("error"));
                }
                row.put("hostPeakRssGiB", hostPeakBytes() / GIB);
                // what the process held before this mode loaded anything (JVM, CUDA context)
                row.put("hostRssAtModeStartGiB", hostAtStart / GIB);
                row.put("hostRssAfterLoadGiB", hostAfterLoad / GIB);
                row.put("hostPeakRssAfterLoadGiB", hostPeakAfterLoad / GIB);
                row.put("hostPeakSinceModeStart", hostReset);
                rows.add(row);
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            for (int[] r : runList) {
                Map<String, Object> row = row(mode, budget, r);
                row.put(
                        "error",
                        "build: "
                                + String.valueOf(e.getMessage())
                                        .lines()
                                        .findFirst()
                                        .orElse(e.toString()));
                rows.add(row);
            }
            System.out.println("== " + mode + ": " + rows.get(rows.size() - 1).get("error"));
        }
        return rows;
    }

    private static Map<String, Object> row(String mode, @Nullable Long budget, int[] r) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("mode", mode);
        if (budget != null) {
            row.put("budgetGiB", budget / GIB);
        }
        row.put("requested", r[0] + "x" + r[1]);
        row.put("steps", r[2]);
        return row;
    }

    private static void printTable(List<Map<String, Object>> rows) {
        System.out.printf(
                Locale.ROOT,
                "%-11s %-10s %5s %7s %7s %7s %8s %7s %7s %9s %9s %8s%n",
                "mode",
                "size",
                "steps",
                "load s",
                "text s",
                "step s",
                "denoise",
                "decode",
                "moves",
                "peak GiB",
                "resv GiB",
                "host GiB");
        for (Map<String, Object> r : rows) {
            if (r.containsKey("error")) {
                System.out.printf(
                        Locale.ROOT,
                        "%-11s %-10s %5s  %s%n",
                        r.get("mode"),
                        r.get("requested"),
                        r.get("steps"),
                        r.get("error"));
                continue;
            }
            System.out.printf(
                    Locale.ROOT,
                    "%-11s %-10s %5d %7.1f %7.2f %7.3f %8.1f %7.2f %7.2f %9.2f %9.2f %8.2f%n",
                    r.get("mode"),
                    r.get("width") + "x" + r.get("height"),
                    (Integer) r.get("steps"),
                    num(r, "loadSeconds"),
                    num(r, "textSeconds"),
                    num(r, "stepSeconds"),
                    num(r, "denoiseSeconds"),
                    num(r, "decodeSeconds"),
                    num(r, "modelMoveSeconds"),
                    num(r, "peakAllocatedGiB"),
                    num(r, "peakReservedGiB"),
                    num(r, "hostPeakRssGiB"));
        }
    }

    private static double num(Map<String, Object> r, String key) {
        Object v = r.get(key);
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** {@code WIDTHxHEIGHT:STEPS} as {@code {width, height, steps}}. */
    static int[] parseRun(String s) {
        String[] a = s.strip().toLowerCase(Locale.ROOT).split("[x:]");
        if (a.length != 3) {
            throw new IllegalArgumentException("run '" + s + "' is not WIDTHxHEIGHT:STEPS (e.g. 1024x1024:28)");
        }
        try {
            int[] r = {Integer.parseInt(a[0]), Integer.parseInt(a[1]), Integer.parseInt(a[2])};
            if (r[0] < 16 || r[1] < 16 || r[2] < 1) {
                throw new IllegalArgumentException("run '" + s + "': sides must be >= 16 and steps >= 1");
            }
            return r;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("run '" + s + "' is not WIDTHxHEIGHT:STEPS (e.g. 1024x1024:28)", e);
        }
    }

    private static double secs(Duration d) {
        return d.toNanos() / 1e9;
    }

    private static void resetPeak(FluxDevice dev) {
        if (dev.isCuda()) {
            // the caching allocator rejects the device ("Invalid device argument") until LibTorch
            // has created its CUDA context there: one tiny allocation does that
            try (PointerScope scope = new PointerScope()) {
                org.bytedeco.pytorch.global.torch.zeros(
                        new long[] {1},
                        new org.bytedeco.pytorch.TensorOptions(org.bytedeco.pytorch.global.torch.ScalarType.Float)
                                .device(new org.bytedeco.pytorch.DeviceOptional(dev.toTorch())));
            }
            torch_cuda.device_synchronize();
            torch_cuda.getAllocator().resetPeakStats((byte) dev.index());
        }
    }

    /**
     * The host-to-device copy rate from page-locked memory: five 1 GiB copies after one warm-up,
     * in GB/s (10^9 bytes).
     */
    static double hostToDeviceGBps(FluxDevice dev) {
        long n = 1L << 30;
        try (PinnedHostMemory pinned = PinnedHostMemory.forTensors(new long[] {n});
                PointerScope scope = new PointerScope()) {
            org.bytedeco.pytorch.TensorOptions bytes =
                    new org.bytedeco.pytorch.TensorOptions(org.bytedeco.pytorch.global.torch.ScalarType.Byte);
            Tensor host = pinned.copyOf(org.bytedeco.pytorch.global.torch.zeros(new long[] {n}, bytes));
            Tensor onDevice = org.bytedeco.pytorch.global.torch.empty(
                    new long[] {n}, bytes.device(new org.bytedeco.pytorch.DeviceOptional(dev.toTorch())), null);
            onDevice.copy_(host, true);
            torch_cuda.device_synchronize();
            int reps = 5;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                onDevice.copy_(host, true);
            }
            torch_cuda.device_synchronize();
            double seconds = (System.nanoTime() - t0) / 1e9;
            // `scope` (closed first) frees `host` before the pinned memory under it
            return reps * (double) n / seconds / 1e9;
        }
    }

    private static void emptyCache(FluxDevice dev) {
        if (dev.isCuda()) {
            Torch.emptyCudaCache();
            resetPeak(dev);
        }
    }

    private static long @Nullable [] peak(FluxDevice dev) {
        if (!dev.isCuda()) {
            return null;
        }
        torch_cuda.device_synchronize();
        try (PointerScope scope = new PointerScope()) {
            DeviceStats st = torch_cuda.getAllocator().getDeviceStats((byte) dev.index());
            return new long[] {st.allocated_bytes().peak(), st.reserved_bytes().peak()};
        }
    }

    /** Resets the kernel's peak RSS (VmHWM) for this process: {@code echo 5 > /proc/self/clear_refs}. */
    static boolean resetHostPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5", StandardCharsets.US_ASCII);
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** {@code VmHWM} of {@code /proc/self/status} in bytes, or -1 where there is none. */
    static long hostPeakBytes() {
        return statusBytes("VmHWM:");
    }

    /** A kB field of {@code /proc/self/status} ({@code "VmRSS:"}) in bytes, or -1 where there is none. */
    static long statusBytes(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
                if (line.startsWith(field)) {
                    String[] f = line.substring(field.length()).strip().split("\\s+");
                    return Long.parseLong(f[0]) * 1024; // kB
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private static Path defaultWork() {
        Path shm = Path.of("/dev/shm");
        try {
            if (Files.isDirectory(shm) && Files.getFileStore(shm).getUsableSpace() > 40L << 30) {
                return shm;
            }
        } catch (IOException e) {
            // fall through
        }
        return Path.of(System.getProperty("java.io.tmpdir"));
    }
}
