package io.github.flux4j.examples.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.core.cuda.CublasLt;
import io.github.flux4j.core.cuda.CudaKernels;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.SdpaBackend;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.transformer.GgufTransformer;
import io.github.flux4j.core.transformer.GraphedForward;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.examples.tools.SyntheticFluxGguf;
import io.github.flux4j.gguf.GgmlType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.cuda.DeviceStats;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One FLUX transformer forward (= one denoising step of the pipeline, without guidance batching)
 * on a GPU: loads a GGUF with {@link GgufTransformer#load} (timed), then per image size and SDPA
 * backend order runs warm-up forwards and timed forwards (each followed by a device
 * synchronisation) with random inputs of the pipeline's shapes (512 text tokens, guidance 3.5).
 * Reports median / p90 forward time, device memory resident after loading (allocated and
 * reserved) and the peaks during the forwards (peak statistics reset, and the cache emptied, after
 * loading and before each configuration), prints a table and writes a JSON file.
 *
 * <p>Without {@code --file} it first writes a synthetic FLUX.1-dev GGUF with random weights
 * ({@link SyntheticFluxGguf}, block type {@code --generate}, default Q8_0) to {@code --work}
 * (default: {@code /dev/shm} when it has 30 GiB free, so that loading reads no disk, else the
 * temporary folder) and deletes it afterwards unless {@code --keep}.
 *
 * <p>Also runs on the CPU ({@code --device cpu}, with a small {@code --config tiny} or
 * {@code --depth/--single}) to check the program; device memory is then not reported.
 */
@Command(
        name = "transformer-benchmark",
        mixinStandardHelpOptions = true,
        description = "Times FLUX transformer forwards (one denoising step) from a GGUF on a GPU.")
public final class TransformerBenchmark implements Callable<Integer> {
    @Option(names = "--file", description = "GGUF to load (default: generate a synthetic one).")
    private @Nullable Path file;

    @Option(
            names = "--generate",
            description = "Block type of the synthetic GGUF (default Q8_0).",
            defaultValue = "Q8_0")
    private GgmlType generate = GgmlType.Q8_0;

    @Option(names = "--config", description = "Synthetic model: dev (default), schnell, tiny.", defaultValue = "dev")
    private String config = "dev";

    @Option(names = "--depth", description = "Synthetic model: number of double blocks.")
    private @Nullable Integer depth;

    @Option(names = "--single", description = "Synthetic model: number of single blocks.")
    private @Nullable Integer single;

    @Option(names = "--work", description = "Folder for the synthetic GGUF.")
    private @Nullable Path work;

    @Option(names = "--keep", description = "Keep the synthetic GGUF.")
    private boolean keep;

    @Option(names = "--device", description = "cuda:0 (default) or cpu.", defaultValue = "cuda:0")
    private String device = "cuda:0";

    @Option(names = "--dtype", description = "Compute dtype (default BF16).", defaultValue = "BF16")
    private ComputeDtype dtype = ComputeDtype.BF16;

    @Option(
            names = "--arithmetic",
            split = ",",
            description = "Dequantization arithmetic(s), each loaded once " + "(default EXACT_FLOAT32).",
            defaultValue = "EXACT_FLOAT32")
    private List<DequantArithmetic> arithmetics = List.of(DequantArithmetic.EXACT_FLOAT32);

    @Option(
            names = "--sizes",
            split = ",",
            description = "WIDTHxHEIGHT in pixels (default 1024x1024,672x496).",
            defaultValue = "1024x1024,672x496")
    private List<String> sizes = List.of("1024x1024", "672x496");

    @Option(names = "--txt-tokens", description = "Text tokens (default 512).", defaultValue = "512")
    private int txtTokens = 512;

    @Option(
            names = "--sdpa",
            split = ",",
            description = "SDPA orders: default (LibTorch's, after its first CUDA "
                    + "call), cudnn (Torch.preferCudnnAttention), flash, efficient. Default: default,cudnn.",
            defaultValue = "default,cudnn")
    private List<String> sdpaModes = List.of("default", "cudnn");

    @Option(
            names = "--paths",
            split = ",",
            description = "Weight/element-wise paths, each loaded once: fast (CUDA "
                    + "kernels, the default), reference (LibTorch ops only), cached (fast + every expanded weight resident), nomatvec (fast without the fused few-row matvec), "
                    + "nogeluepilogue (fast with the feed-forward GELU as a kernel after the GEMM), "
                    + "nosplit (fast with one GEMM per single-block linear and the 5h-wide concatenation), "
                    + "noropecache (fast with the RoPE tables computed on every forward), "
                    + "lt / nolt (fast with the many-row GEMMs through flux4j's cuBLASLt plans / LibTorch's GEMM calls;"
                    + " fast itself takes -Dflux4j.cuda.cublasLt's default), graph (fast, replayed from a CUDA graph"
                    + " per size: GraphedForward). "
                    + "reference runs without kernels, cuBLASLt calls, GELU epilogue or split linears. "
                    + "The output of each is compared with the first path's at the same size.")
    private List<String> paths = List.of("fast");

    @Option(names = "--warmup", description = "Warm-up forwards per configuration (default 2).", defaultValue = "2")
    private int warmup = 2;

    @Option(names = "--iters", description = "Timed forwards per configuration (default 10).", defaultValue = "10")
    private int iters = 10;

    @Option(
            names = "--count-kernels",
            description = "After the timed forwards of each configuration, one more forward with CUPTI's kernel "
                    + "records on (CUDA): kernels per step, their summed GPU time, the span, the largest by name.")
    private boolean countKernels;

    @Option(names = "--threads", description = "LibTorch intra-op threads (CPU).")
    private @Nullable Integer threads;

    @Option(names = "--json", description = "Write the results here.")
    private @Nullable Path json;

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new TransformerBenchmark()).execute(args));
    }

    private static final double GIB = 1024.0 * 1024 * 1024;

    /**
     * The process-wide switches the paths set (read on every forward): put back to what the command
     * line said before each path and at the end.
     */
    private static final List<String> PATH_PROPERTIES = List.of(
            CudaKernels.GELU_EPILOGUE_PROPERTY,
            CudaKernels.SPLIT_SINGLE_LINEARS_PROPERTY,
            FluxTransformer.ROPE_CACHE_PROPERTY,
            CublasLt.PROPERTY);

    @Override
    public Integer call() throws Exception {
        FluxDevice dev = FluxDevice.parse(device);
        boolean cuda = dev.isCuda();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("what", "FLUX transformer forward (one denoising step), random inputs, guidance 3.5");
        result.put("device", dev.toString());
        result.put("dtype", dtype.name());
        result.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        result.put("cpus", Runtime.getRuntime().availableProcessors());
        result.put("warmup", warmup);
        result.put("iters", iters);
        if (cuda && !FluxDevice.cudaAvailable()) {
            System.err.println("CUDA is not available (GPU natives / driver)");
            return 1;
        }
        Torch.init();
        if (threads != null) {
            Torch.setIntraOpThreads(threads);
        }
        result.put("intraop_threads", Torch.intraOpThreads());

        Path gguf = file;
        boolean generated = false;
        if (gguf == null) {
            FluxConfig c = SyntheticFluxGguf.config(config);
            if (depth != null || single != null) {
                c = c.withDepths(depth != null ? depth : c.depth(), single != null ? single : c.depthSingleBlocks());
            }
            Path dir = work != null ? work : defaultWork();
            Files.createDirectories(dir);
            gguf = dir.resolve("synthetic-flux-" + config + "-" + c.depth() + "+" + c.depthSingleBlocks() + "-"
                    + generate + ".gguf");
            System.out.printf(Locale.ROOT, "generating %s ...%n", gguf);
            SyntheticFluxGguf.Summary s = SyntheticFluxGguf.write(gguf, c, SyntheticFluxGguf.Options.of(generate));
            System.out.println("generated " + s);
            Map<String, Object> g = new LinkedHashMap<>();
            g.put("path", gguf.toString());
            g.put("tensors", s.tensors());
            g.put("parameters", s.parameters());
            g.put("file_bytes", s.fileBytes());
            g.put("tensors_by_type", s.tensorsByType().toString());
            g.put("seconds", round(s.seconds(), 2));
            result.put("generated", g);
            generated = true;
        }
        result.put("file", gguf.toString());
        result.put("file_bytes", Files.size(gguf));

        List<Map<String, Object>> loads = new ArrayList<>();
        List<Map<String, Object>> runs = new ArrayList<>();
        result.put("loads", loads);
        result.put("runs", runs);
        List<SdpaBackend> defaultOrder = null;
        if (cuda) {
            // Initialises the CUDA context and caching allocator (resetPeakStats fails before) and
            // triggers LibTorch's first-SDPA-call order rewrite.
            defaultOrder = firstCallOrder(dev);
            result.put("sdpa_default_order", defaultOrder.toString());
            System.out.println("SDPA order after LibTorch's first CUDA call: " + defaultOrder);
        }
        Map<String, @Nullable String> given = new HashMap<>();
        PATH_PROPERTIES.forEach(p -> given.put(p, System.getProperty(p)));
        try {
            for (DequantArithmetic arithmetic : arithmetics) {
                for (String path : paths) {
                    LoadOptions opts = new LoadOptions(dev, dtype, arithmetic, true);
                    // the PATH_PROPERTIES are process-wide switches, read on every forward: back to what
                    // the command line said, then the path's own setting
                    restore(given);
                    switch (path) {
                        case "fast" -> {}
                        case "reference" -> {
                            opts = opts.withCudaKernels(false);
                            System.setProperty(CublasLt.PROPERTY, "false");
                        }
                        case "cached" -> opts = opts.withDequantizedCacheBytes(Long.MAX_VALUE / 2);
                        case "nomatvec" -> opts = opts.withFusedMatvec(false);
                        case "nogeluepilogue" -> System.setProperty(CudaKernels.GELU_EPILOGUE_PROPERTY, "false");
                        case "nosplit" -> System.setProperty(CudaKernels.SPLIT_SINGLE_LINEARS_PROPERTY, "false");
                        case "noropecache" -> System.setProperty(FluxTransformer.ROPE_CACHE_PROPERTY, "false");
                        case "lt" -> System.setProperty(CublasLt.PROPERTY, "true");
                        case "graph" -> {} // fast, replayed from a CUDA graph per size (runOne)
                        case "nolt" -> System.setProperty(CublasLt.PROPERTY, "false");
                        default ->
                            throw new IllegalArgumentException("--paths: unknown path '" + path
                                    + "' (fast, reference, cached, nomatvec, nogeluepilogue, nosplit, noropecache,"
                                    + " lt, nolt, graph)");
                    }
                    if (cuda) {
                        Torch.emptyCudaCache();
                        alloc().resetPeakStats((byte) dev.index());
                    }
                    long t0 = System.nanoTime();
                    try (FluxTransformer model = GgufTransformer.load(gguf, opts)) {
                        sync(dev);
                        double loadS = (System.nanoTime() - t0) / 1e9;
                        Map<String, Object> load = new LinkedHashMap<>();
                        load.put("arithmetic", arithmetic.name());
                        load.put("path", path);
                        load.put("model", model.toString());
                        load.put("load_s", round(loadS, 2));
                        load.put("weight_bytes", model.weightBytes());
                        double residentAlloc = 0;
                        double residentReserved = 0;
                        if (cuda) {
                            DeviceStats st = alloc().getDeviceStats((byte) dev.index());
                            residentAlloc = st.allocated_bytes().current() / GIB;
                            residentReserved = st.reserved_bytes().current() / GIB;
                            load.put("resident_alloc_gib", round(residentAlloc, 3));
                            load.put("resident_reserved_gib", round(residentReserved, 3));
                            load.put(
                                    "load_peak_alloc_gib",
                                    round(st.allocated_bytes().peak() / GIB, 3));
                            load.put(
                                    "load_peak_reserved_gib",
                                    round(st.reserved_bytes().peak() / GIB, 3));
                        }
                        loads.add(load);
                        System.out.printf(
                                Locale.ROOT,
                                "loaded %s (%s) in %.2f s, %.2f GiB of weights read; resident: %.2f GiB "
                                        + "allocated, %.2f GiB reserved%n",
                                model,
                                arithmetic,
                                loadS,
                                model.weightBytes() / GIB,
                                residentAlloc,
                                residentReserved);
                        for (String mode : sdpaModes) {
                            String applied = applySdpa(mode, dev, defaultOrder);
                            for (String size : sizes) {
                                Map<String, Object> run;
                                try {
                                    run = runOne(model, dev, size, mode, applied, residentAlloc, path);
                                } catch (RuntimeException e) {
                                    // e.g. CUDA out of memory: record it and go on with the next configuration
                                    String msg = String.valueOf(e.getMessage())
                                            .lines()
                                            .findFirst()
                                            .orElse("");
                                    System.out.printf(Locale.ROOT, "%-9s sdpa %-8s: FAILED: %s%n", size, mode, msg);
                                    run = new LinkedHashMap<>();
                                    run.put("size", size);
                                    run.put("sdpa", mode);
                                    run.put("error", msg);
                                    if (cuda) {
                                        DeviceStats st = alloc().getDeviceStats((byte) dev.index());
                                        run.put(
                                                "peak_alloc_gib",
                                                round(st.allocated_bytes().peak() / GIB, 3));
                                        run.put(
                                                "peak_reserved_gib",
                                                round(st.reserved_bytes().peak() / GIB, 3));
                                        Torch.emptyCudaCache();
                                    }
                                }
                                run.put("arithmetic", arithmetic.name());
                                run.put("path", path);
                                runs.add(run);
                            }
                        }
                    }
                }
            }
            if (cuda) {
                result.put("cuda_kernels", io.github.flux4j.core.cuda.CudaKernels.status(dev.index()));
                result.put("gemms", CublasLt.status(dev.index()));
                // the kernels' tuning (same bits at every setting, not the same speed)
                result.put("matvec_depth", io.github.flux4j.core.cuda.CudaKernels.matvecDepth());
                result.put("dequant_tiles", io.github.flux4j.core.cuda.CudaKernels.dequantTiles());
                result.put("ln_modulate_kernel", CudaKernels.lnModulateKernel().name());
                result.put("rms_rope_vectors", CudaKernels.rmsRopeVectors());
                result.put("gelu_epilogue", CudaKernels.geluEpilogue());
                result.put("split_single_linears", CudaKernels.splitSingleLinears());
                System.out.println("CUDA kernels: " + io.github.flux4j.core.cuda.CudaKernels.status(dev.index())
                        + "; matvec depth " + io.github.flux4j.core.cuda.CudaKernels.matvecDepth()
                        + ", dequantization tiles " + io.github.flux4j.core.cuda.CudaKernels.dequantTiles());
            }
        } finally {
            restore(given);
            firstOutputs.values().forEach(Tensor::close);
            if (generated && !keep) {
                Files.deleteIfExists(gguf);
            }
        }
        printSummary(runs);
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

    /** The CUDA graphs of the {@code graph} path's current run, else null. */
    private @Nullable GraphedForward graphed;

    /** The first path's output per size and SDPA mode: what later paths are compared with. */
    private final Map<String, Tensor> firstOutputs = new LinkedHashMap<>();

    private Map<String, Object> runOne(
            FluxTransformer model,
            FluxDevice dev,
            String size,
            String mode,
            String applied,
            double residentAlloc,
            String path) {
        String[] wh = size.toLowerCase(Locale.ROOT).split("x");
        int w = Integer.parseInt(wh[0].strip());
        int h = Integer.parseInt(wh[1].strip());
        boolean cuda = dev.isCuda();
        Map<String, Object> run = new LinkedHashMap<>();
        graphed = "graph".equals(path) && cuda ? new GraphedForward(model) : null;
        try (FluxInputs in = new FluxInputs(model.config(), dev, w, h, txtTokens, 42)) {
            if (cuda) {
                sync(dev);
                Torch.emptyCudaCache();
                alloc().resetPeakStats((byte) dev.index());
            }
            double[] warm = new double[warmup];
            for (int i = 0; i < warmup; i++) {
                warm[i] = timeForward(model, in, dev);
            }
            double[] times = new double[iters];
            double[] enqueue = new double[iters];
            boolean finite = true;
            double relToFirst = Double.NaN;
            String key = size + "/" + mode;
            for (int i = 0; i < iters; i++) {
                long t0 = System.nanoTime();
                try (PointerScope scope = new PointerScope()) {
                    Tensor out = forwardOnce(model, in);
                    // the host's share: the forward has returned, the GPU may still be working
                    enqueue[i] = (System.nanoTime() - t0) / 1e6;
                    sync(dev);
                    times[i] = (System.nanoTime() - t0) / 1e6;
                    if (i == iters - 1) {
                        finite = torch.isfinite(out).all().item_bool();
                        Tensor first = firstOutputs.get(key);
                        if (first == null) {
                            firstOutputs.put(key, out.to(ScalarType.Float).retainReference());
                        } else {
                            Tensor d = out.to(ScalarType.Float).sub(first);
                            relToFirst = torch.norm(d).item_double()
                                    / torch.norm(first).item_double();
                        }
                    }
                }
            }
            Stats s = Stats.of(times);
            Stats q = Stats.of(enqueue);
            run.put("host_enqueue_median_ms", round(q.median(), 2));
            if (!Double.isNaN(relToFirst)) {
                run.put("rel_diff_vs_" + paths.get(0), relToFirst);
            }
            run.put("size", in.size());
            run.put("image_tokens", in.imageTokens);
            run.put("text_tokens", in.textTokens);
            run.put("sdpa", mode);
            run.put("sdpa_order", applied);
            run.put("median_ms", round(s.median(), 2));
            run.put("p90_ms", round(s.p90(), 2));
            run.put("min_ms", round(s.min(), 2));
            run.put("max_ms", round(s.max(), 2));
            run.put("warmup_ms", roundAll(warm));
            run.put("times_ms", roundAll(times));
            run.put("output_finite", finite);
            String mem = "";
            if (cuda) {
                DeviceStats st = alloc().getDeviceStats((byte) dev.index());
                double peakAlloc = st.allocated_bytes().peak() / GIB;
                double peakReserved = st.reserved_bytes().peak() / GIB;
                run.put("peak_alloc_gib", round(peakAlloc, 3));
                run.put("peak_reserved_gib", round(peakReserved, 3));
                run.put("forward_extra_alloc_gib", round(peakAlloc - residentAlloc, 3));
                mem = String.format(
                        Locale.ROOT,
                        ", peak alloc %.2f GiB (+%.2f over the weights), peak reserved %.2f GiB",
                        peakAlloc,
                        peakAlloc - residentAlloc,
                        peakReserved);
            }
            if (cuda && countKernels) { // after the peak statistics were read: the trace is not part of them
                run.put("kernel_trace", traceKernels(model, in, dev));
            }
            System.out.printf(
                    Locale.ROOT,
                    "%-9s %4d+%d tokens, %-9s sdpa %-8s: median %.1f ms, p90 %.1f ms, host enqueue "
                            + "%.1f ms (warm-up %s ms)%s%s%s%n",
                    in.size(),
                    in.imageTokens,
                    in.textTokens,
                    path,
                    mode,
                    s.median(),
                    s.p90(),
                    q.median(),
                    roundAll(warm),
                    mem,
                    Double.isNaN(relToFirst)
                            ? ""
                            : String.format(Locale.ROOT, ", rel diff vs %s %.2e", paths.get(0), relToFirst),
                    finite ? "" : "  OUTPUT NOT FINITE");
        } finally {
            GraphedForward g = graphed;
            if (g != null) {
                run.put("cuda_graphs", g.graphs());
                g.close();
                graphed = null;
            }
        }
        return run;
    }

    /** One forward of {@code in}: from the {@code graph} path's graphs where that path runs. */
    private Tensor forwardOnce(FluxTransformer model, FluxInputs in) {
        return in.forward(model, graphed);
    }

    private double timeForward(FluxTransformer model, FluxInputs in, FluxDevice dev) {
        long t0 = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
            var unused = forwardOnce(model, in);
            sync(dev);
        }
        return (System.nanoTime() - t0) / 1e6;
    }

    /** One more forward under {@link KernelTrace}; a CUPTI failure is reported, not thrown. */
    private Map<String, Object> traceKernels(FluxTransformer model, FluxInputs in, FluxDevice dev) {
        try {
            KernelTrace.Result r = KernelTrace.trace(() -> timeForward(model, in, dev));
            System.out.printf(
                    Locale.ROOT,
                    "%-9s kernels per forward: %d, %.1f ms of kernel time over a span of %.1f ms (names %s)%n",
                    in.size(),
                    r.kernels(),
                    r.kernelMs(),
                    r.spanMs(),
                    r.names());
            System.out.printf(
                    Locale.ROOT,
                    "%-9s GPU idle inside the span: %.2f ms (%.2f ms before the 100th kernel); largest gaps %s%n",
                    in.size(),
                    r.idle().totalMs(),
                    r.idle().first100Ms(),
                    r.idle().largest());
            int named = r.names().equals("read") ? 12 : 0; // without names the groups say nothing
            for (KernelTrace.Group g :
                    r.groups().subList(0, Math.min(named, r.groups().size()))) {
                System.out.printf(Locale.ROOT, "    %5d x %8.3f ms  %s%n", g.count(), g.totalMs(), g.name());
            }
            return r.toMap(25);
        } catch (RuntimeException | LinkageError e) {
            System.out.println("kernel trace failed: " + e);
            return Map.of("error", String.valueOf(e));
        }
    }

    /** Sets each system property back to its value in {@code given}, or clears it where it was unset. */
    private static void restore(Map<String, @Nullable String> given) {
        given.forEach((name, value) -> {
            if (value == null) {
                System.clearProperty(name);
            } else {
                System.setProperty(name, value);
            }
        });
    }

    /** Triggers LibTorch's first-CUDA-SDPA-call order rewrite and returns the order it leaves. */
    private static List<SdpaBackend> firstCallOrder(FluxDevice dev) {
        try (PointerScope scope = new PointerScope()) {
            TensorOptions opts = new TensorOptions(ScalarType.BFloat16).device(new DeviceOptional(dev.toTorch()));
            Tensor q = torch.zeros(new long[] {1, 1, 16, 64}, opts);
            torch.scaled_dot_product_attention(q, q, q);
            sync(dev);
        }
        return Torch.sdpaPriority();
    }

    private static String applySdpa(String mode, FluxDevice dev, @Nullable List<SdpaBackend> defaultOrder) {
        switch (mode.strip().toLowerCase(Locale.ROOT)) {
            case "default" -> {
                if (defaultOrder != null) {
                    Torch.setSdpaPriority(defaultOrder.toArray(SdpaBackend[]::new));
                }
            }
            case "cudnn" -> Torch.preferCudnnAttention(dev);
            case "flash" ->
                Torch.setSdpaPriority(SdpaBackend.FLASH, SdpaBackend.EFFICIENT, SdpaBackend.CUDNN, SdpaBackend.MATH);
            case "efficient" ->
                Torch.setSdpaPriority(SdpaBackend.EFFICIENT, SdpaBackend.FLASH, SdpaBackend.CUDNN, SdpaBackend.MATH);
            default -> throw new IllegalArgumentException("unknown --sdpa mode " + mode);
        }
        return Torch.sdpaPriority().toString();
    }

    private void printSummary(List<Map<String, Object>> runs) {
        System.out.println();
        String relKey = "rel_diff_vs_" + paths.get(0);
        System.out.println(
                "| path | arithmetic | size | tokens (img+txt) | SDPA | median ms | p90 ms | host enqueue ms "
                        + "| peak alloc GiB | peak reserved GiB | rel diff vs " + paths.get(0) + " |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (Map<String, Object> r : runs) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %s | %s | %s+%s | %s | %s | %s | %s | %s | %s | %s |%n",
                    r.get("path"),
                    r.get("arithmetic"),
                    r.get("size"),
                    r.get("image_tokens"),
                    r.get("text_tokens"),
                    r.get("sdpa"),
                    r.get("median_ms"),
                    r.get("p90_ms"),
                    r.getOrDefault("host_enqueue_median_ms", "-"),
                    r.getOrDefault("peak_alloc_gib", "-"),
                    r.getOrDefault("peak_reserved_gib", "-"),
                    r.containsKey(relKey) ? String.format(Locale.ROOT, "%.2e", (Double) r.get(relKey)) : "-");
        }
    }

    private static Path defaultWork() {
        Path shm = Path.of("/dev/shm");
        try {
            if (Files.isDirectory(shm) && Files.getFileStore(shm).getUsableSpace() > 30L << 30) {
                return shm.resolve("flux4j-bench");
            }
        } catch (IOException e) {
            // fall through
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "flux4j-bench");
    }

    private static org.bytedeco.pytorch.cuda.CUDAAllocator alloc() {
        return torch_cuda.getAllocator();
    }

    private static void sync(FluxDevice dev) {
        if (dev.isCuda()) {
            torch_cuda.device_synchronize();
        }
    }

    static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    static List<Double> roundAll(double[] v) {
        List<Double> r = new ArrayList<>();
        for (double x : v) {
            r.add(round(x, 1));
        }
        return r;
    }
}
