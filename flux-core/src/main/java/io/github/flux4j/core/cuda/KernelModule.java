package io.github.flux4j.core.cuda;

import static org.bytedeco.cuda.global.cudart.CUDA_SUCCESS;
import static org.bytedeco.cuda.global.cudart.cuCtxSetCurrent;
import static org.bytedeco.cuda.global.cudart.cuDevicePrimaryCtxRetain;
import static org.bytedeco.cuda.global.cudart.cuGetErrorString;
import static org.bytedeco.cuda.global.cudart.cuInit;
import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;
import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.nvrtc.NVRTC_SUCCESS;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCompileProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCreateProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcDestroyProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBIN;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBINSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetErrorString;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLog;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLogSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcVersion;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernels of {@code flux_kernels.cu} compiled for one device (CUBIN for its compute
 * capability, cached on disk by source hash) and loaded into its primary context, the one
 * LibTorch's runtime API uses. Functions are looked up once by name; launches go to a caller-given
 * stream. Native objects here live as long as the process (a module per device).
 */
final class KernelModule {
    private static final Logger LOG = LoggerFactory.getLogger(KernelModule.class);
    static final String SOURCE_RESOURCE = "/io/github/flux4j/core/cuda/flux_kernels.cu";

    private final int device;
    private final String arch;
    private final CUctx_st context;
    private final CUmod_st module;
    private final Map<String, CUfunc_st> functions = new ConcurrentHashMap<>();
    private final ThreadLocal<Boolean> contextCurrent = ThreadLocal.withInitial(() -> false);
    private final ThreadLocal<LaunchArgs> args = ThreadLocal.withInitial(LaunchArgs::new);
    private final String description;

    private KernelModule(int device, String arch, CUctx_st context, CUmod_st module, String description) {
        this.device = device;
        this.arch = arch;
        this.context = context;
        this.module = module;
        this.description = description;
    }

    /**
     * Compiles (or reads from the cache) and loads the kernels for {@code device} of compute
     * capability {@code major.minor}.
     *
     * @throws CudaException if NVRTC or the driver refuses; the message carries the compiler log
     */
    static KernelModule load(int device, int major, int minor, @Nullable Path cacheDir) {
        long t0 = System.nanoTime();
        String source = readSource();
        String arch = "sm_" + major + minor;
        String[] options = {"--gpu-architecture=" + arch, "--fmad=false", "-std=c++17"};
        int[] vMajor = new int[1];
        int[] vMinor = new int[1];
        checkNvrtc(nvrtcVersion(vMajor, vMinor), "nvrtcVersion");
        String key = sha256(source + "\n" + String.join(" ", options) + "\nnvrtc " + vMajor[0] + "." + vMinor[0]);
        byte[] cubin = null;
        boolean cached = false;
        Path cacheFile = cacheDir == null
                ? null
                : cacheDir.resolve("flux_kernels-" + arch + "-" + key.substring(0, 16) + ".cubin");
        if (cacheFile != null && Files.isRegularFile(cacheFile)) {
            try {
                cubin = Files.readAllBytes(cacheFile);
                cached = true;
            } catch (IOException e) {
                LOG.debug("cannot read the kernel cache {}: {}", cacheFile, e.toString());
            }
        }
        if (cubin == null) {
            // said before, not only after: the first compile of the whole file takes seconds to
            // tens of seconds (10-12 s on a 16-core H100 host with --split-compile, 2026-12-06; more
            // with fewer cores), which a user would otherwise take for a hang
            LOG.info(
                    "compiling flux4j's CUDA kernels for {} with NVRTC {}.{} (once: {}; 10 s or more)",
                    arch,
                    vMajor[0],
                    vMinor[0],
                    cacheFile == null ? "the cache is off" : "the CUBIN is then kept in " + cacheFile.getParent());
            cubin = compileParallel(source, options);
            if (cacheFile != null) {
                store(cacheFile, cubin);
            }
        }
        check(cuInit(0), "cuInit");
        // Handles and buffers that live as long as the process are retained: a PointerScope open
        // around the first use must not free them.
        CUctx_st ctx = new CUctx_st().retainReference();
        check(cuDevicePrimaryCtxRetain(ctx, device), "cuDevicePrimaryCtxRetain");
        check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        CUmod_st mod = new CUmod_st().retainReference();
        BytePointer image = new BytePointer(cubin.length);
        image.put(cubin, 0, cubin.length);
        check(cuModuleLoadData(mod, image), "cuModuleLoadData");
        image.close();
        double ms = (System.nanoTime() - t0) / 1e6;
        String description = String.format(
                "NVRTC %d.%d kernels for %s on cuda:%d (%s in %.0f ms)",
                vMajor[0], vMinor[0], arch, device, cached ? "cached CUBIN loaded" : "compiled", ms);
        KernelModule m = new KernelModule(device, arch, ctx, mod, description);
        m.contextCurrent.set(true);
        return m;
    }

    /** What was loaded and how long it took, for logs and benchmark output. */
    String description() {
        return description;
    }

    String arch() {
        return arch;
    }

    /** The argument buffer of the calling thread, cleared. */
    LaunchArgs args() {
        return args.get().clear();
    }

    /** Launches {@code name} with the arguments in {@code a} on {@code stream}. */
    void launch(String name, long grid, int block, int sharedBytes, CUstream_st stream, LaunchArgs a) {
        if (grid <= 0) {
            return;
        }
        if (grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(name + ": grid of " + grid + " blocks is too large");
        }
        if (!contextCurrent.get()) {
            check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            contextCurrent.set(true);
        }
        CUfunc_st fn = functions.computeIfAbsent(name, n -> {
            CUfunc_st f = new CUfunc_st().retainReference();
            check(cuModuleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
            return f;
        });
        check(
                cuLaunchKernel(fn, (int) grid, 1, 1, block, 1, 1, sharedBytes, stream, a.pointers(), null),
                "cuLaunchKernel(" + name + ")");
    }

    int device() {
        return device;
    }

    /**
     * Compiles with NVRTC's {@code --split-compile=0} (its optimisation passes on every core: nvcc
     * took 33 s single-threaded and 19 s split on two cores for this file; 9-12 s on a 16-core H100
     * host); an NVRTC that does not know the option compiles without it. The option may change the
     * machine code's scheduling but not the arithmetic (fixed by the source and {@code --fmad=false}:
     * the bit-exact tests ran on split-compiled code), so it is not part of the cache key.
     */
    private static byte[] compileParallel(String source, String[] options) {
        String[] split = Arrays.copyOf(options, options.length + 1);
        split[options.length] = "--split-compile=0";
        try {
            return compile(source, split);
        } catch (CudaException e) {
            if (!String.valueOf(e.getMessage()).contains("NVRTC_ERROR_INVALID_OPTION")) {
                throw e;
            }
            LOG.debug("NVRTC has no --split-compile; compiling on one thread");
            return compile(source, options);
        }
    }

    private static byte[] compile(String source, String[] options) {
        _nvrtcProgram prog = new _nvrtcProgram();
        checkNvrtc(
                nvrtcCreateProgram(
                        prog,
                        new BytePointer(source, StandardCharsets.UTF_8),
                        new BytePointer("flux_kernels.cu"),
                        0,
                        (PointerPointer<?>) null,
                        (PointerPointer<?>) null),
                "nvrtcCreateProgram");
        try {
            int rc = nvrtcCompileProgram(prog, options.length, new PointerPointer<>(options));
            if (rc != NVRTC_SUCCESS) {
                SizeTPointer logSize = new SizeTPointer(1);
                nvrtcGetProgramLogSize(prog, logSize);
                BytePointer log = new BytePointer(logSize.get());
                nvrtcGetProgramLog(prog, log);
                throw new CudaException("NVRTC could not compile flux_kernels.cu (" + String.join(" ", options) + "): "
                        + nvrtcGetErrorString(rc).getString() + "\n" + log.getString());
            }
            SizeTPointer size = new SizeTPointer(1);
            checkNvrtc(nvrtcGetCUBINSize(prog, size), "nvrtcGetCUBINSize");
            byte[] cubin = new byte[(int) size.get()];
            checkNvrtc(nvrtcGetCUBIN(prog, cubin), "nvrtcGetCUBIN");
            return cubin;
        } finally {
            nvrtcDestroyProgram(prog);
        }
    }

    private static void store(Path file, byte[] cubin) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), ".flux_kernels", ".tmp");
            try {
                Files.write(tmp, cubin);
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | RuntimeException e) {
            // a cache is an optimisation: a read-only home only costs the compile next time
            LOG.debug("cannot cache the compiled kernels in {}: {}", file, e.toString());
        }
    }

    static String readSource() {
        try (InputStream in = KernelModule.class.getResourceAsStream(SOURCE_RESOURCE)) {
            if (in == null) {
                throw new CudaException("the kernel source " + SOURCE_RESOURCE + " is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CudaException("cannot read the kernel source " + SOURCE_RESOURCE + ": " + e.getMessage());
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static void check(int rc, String what) {
        if (rc != CUDA_SUCCESS) {
            BytePointer msg = new BytePointer((BytePointer) null);
            String text = cuGetErrorString(rc, msg) == CUDA_SUCCESS && !msg.isNull() ? msg.getString() : "error " + rc;
            throw new CudaException(what + " failed: " + text + " (" + rc + ")");
        }
    }

    private static void checkNvrtc(int rc, String what) {
        if (rc != NVRTC_SUCCESS) {
            throw new CudaException(what + " failed: " + nvrtcGetErrorString(rc).getString() + " (" + rc + ")");
        }
    }

    /**
     * A thread's reusable kernel-argument block: each argument in its own 8-byte slot (CUDA reads
     * a 4-byte int or float from the first bytes of its slot, which little-endian order puts
     * there), and the {@code void**} array of slot addresses that {@code cuLaunchKernel} takes.
     * Reused so a launch allocates nothing native.
     */
    static final class LaunchArgs {
        private static final int MAX = 16;
        private final LongPointer slots = new LongPointer(MAX).retainReference();
        private final PointerPointer<LongPointer> pointers = new PointerPointer<LongPointer>(MAX).retainReference();
        private int count;

        LaunchArgs() {
            for (int i = 0; i < MAX; i++) {
                pointers.put(i, slots.getPointer(i));
            }
        }

        LaunchArgs clear() {
            count = 0;
            return this;
        }

        LaunchArgs ptr(long address) {
            return i64(address);
        }

        LaunchArgs i64(long value) {
            if (count == MAX) {
                throw new IllegalStateException("more than " + MAX + " kernel arguments");
            }
            slots.put(count++, value);
            return this;
        }

        LaunchArgs i32(int value) {
            return i64(value & 0xFFFF_FFFFL);
        }

        LaunchArgs f32(float value) {
            return i64(Float.floatToRawIntBits(value) & 0xFFFF_FFFFL);
        }

        PointerPointer<LongPointer> pointers() {
            return pointers;
        }
    }
}
