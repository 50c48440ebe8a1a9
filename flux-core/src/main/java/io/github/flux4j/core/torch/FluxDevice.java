package io.github.flux4j.core.torch;

import io.github.flux4j.core.doctor.NativesCheck;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where tensors live: the CPU or one CUDA device. A plain value (unlike LibTorch's native
 * {@link Device}), so it can be stored, compared and printed freely.
 *
 * @param kind CPU or CUDA
 * @param index the CUDA ordinal (0..127); always 0 for the CPU
 */
public record FluxDevice(Kind kind, int index) {
    private static final Logger LOG = LoggerFactory.getLogger(FluxDevice.class);

    /** The device families this library runs on. */
    public enum Kind {
        /** The host processor. */
        CPU,
        /** An NVIDIA GPU through LibTorch's CUDA backend. */
        CUDA
    }

    private static final FluxDevice CPU_DEVICE = new FluxDevice(Kind.CPU, 0);

    /**
     * Validates the fields.
     *
     * @throws IllegalArgumentException if the index is out of range for the kind
     */
    public FluxDevice {
        Objects.requireNonNull(kind, "kind");
        if (kind == Kind.CPU && index != 0) {
            throw new IllegalArgumentException("CPU device index must be 0, got " + index);
        }
        // LibTorch stores the ordinal in a signed byte (c10::DeviceIndex).
        if (index < 0 || index > Byte.MAX_VALUE) {
            throw new IllegalArgumentException("CUDA device index must be in 0..127, got " + index);
        }
    }

    /** The CPU. */
    public static FluxDevice cpu() {
        return CPU_DEVICE;
    }

    /**
     * CUDA device {@code index}.
     *
     * @throws IllegalArgumentException if {@code index} is not in 0..127
     */
    public static FluxDevice cuda(int index) {
        return new FluxDevice(Kind.CUDA, index);
    }

    /**
     * Parses {@code "cpu"}, {@code "cuda"} (device 0) or {@code "cuda:N"}, ignoring case and
     * surrounding blanks: the spelling PyTorch uses.
     *
     * @throws IllegalArgumentException for anything else, naming the rejected text
     */
    public static FluxDevice parse(String spec) {
        String s = spec.strip().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) {
            return CPU_DEVICE;
        }
        if (s.equals("cuda")) {
            return cuda(0);
        }
        if (s.startsWith("cuda:")) {
            String digits = s.substring("cuda:".length());
            if (!digits.isEmpty() && digits.length() <= 3 && digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
                int index = Integer.parseInt(digits);
                if (index <= Byte.MAX_VALUE) {
                    return cuda(index);
                }
            }
        }
        throw new IllegalArgumentException("device '" + spec + "' is not one of: cpu, cuda, cuda:N (N in 0..127)");
    }

    /** True for a CUDA device. */
    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /**
     * A new LibTorch {@link Device} for this device.
     *
     * <p>The result is native memory: when a {@link org.bytedeco.javacpp.PointerScope} is open on
     * this thread it belongs to that scope and is freed with it; otherwise the caller owns it and
     * should {@code close()} it (the GC would free it eventually, but late). It is small, so the
     * usual pattern is to create it inside the scope of the operation that needs it.
     */
    public Device toTorch() {
        return kind == Kind.CPU ? new Device(DeviceType.CPU) : new Device(DeviceType.CUDA, (byte) index);
    }

    /** {@code "cpu"} or {@code "cuda:N"}, which {@link #parse} reads back. */
    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }

    /**
     * Whether a CUDA device can be used: the GPU natives load (the {@code -gpu} pytorch jar, the
     * {@code org.bytedeco:cuda} natives and the system's CUDA libraries) and the driver reports at
     * least one device. Never throws; with the CPU natives it returns false. Computed once. With
     * the GPU natives and something missing, it first logs a warning with
     * {@link io.github.flux4j.core.doctor.CudaCheck}'s message (what is missing and where to get it).
     */
    public static boolean cudaAvailable() {
        return CudaProbe.AVAILABLE;
    }

    /**
     * Why CUDA is not usable, in a user's words, or empty when it is: "this build has LibTorch's
     * CPU natives only (the CUDA classes are not on the classpath)", "the CUDA natives did not load:
     * ..." (a missing system library), or "the CUDA driver reports no device". Computed once,
     * with {@link #cudaAvailable()}.
     */
    public static Optional<String> cudaUnavailableReason() {
        return Optional.ofNullable(CudaProbe.REASON);
    }

    /** Lazy holder, so that the (slow, noisy) native probe runs only when someone asks. */
    private static final class CudaProbe {
        static final @Nullable String REASON = probe();
        static final boolean AVAILABLE = REASON == null;

        /** null when usable, else why not. */
        private static @Nullable String probe() {
            try {
                Torch.init();
                // With the GPU natives, say at once what is missing (driver, GPU, libraries) rather
                // than leave the user with "false" or an UnsatisfiedLinkError.
                NativesCheck.beforeCuda().ifPresent(message -> LOG.warn("{}", message));
                // Plain torch.* calls never load libtorch_cuda; without this the answer is always false.
                Loader.load(torch_cuda.class);
                boolean available = torch.cuda_is_available();
                LOG.debug("CUDA natives loaded; cuda_is_available={}", available);
                return available ? null : "the CUDA driver reports no device (no NVIDIA GPU, or no driver)";
            } catch (LinkageError | RuntimeException e) {
                // UnsatisfiedLinkError (CPU natives, no libcudart), NoClassDefFoundError or
                // TypeNotPresentException (no cuda classes jar: the CPU build),
                // ExceptionInInitializerError: all mean "no usable CUDA here".
                LOG.debug("CUDA not available: {}", e.toString());
                return reason(e);
            }
        }

        private static String reason(Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof TypeNotPresentException
                        || t instanceof ClassNotFoundException
                        || t instanceof NoClassDefFoundError) {
                    return "this build has LibTorch's CPU natives only (the CUDA classes are not on the classpath)";
                }
            }
            String message = e.getMessage();
            return "the CUDA natives did not load: "
                    + (message == null || message.isBlank() ? e.toString() : message.strip());
        }
    }
}
