package io.github.flux4j.core.torch;

import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;

import org.bytedeco.javacpp.BytePointer;

/** Status checks for CUDA runtime calls made directly (streams, events, page-locked memory). */
public final class CudaRuntime {
    private CudaRuntime() {}

    /**
     * Throws if {@code rc} is not {@code cudaSuccess}.
     *
     * @param what the call, for the message ({@code "cudaEventRecord"})
     * @throws IllegalStateException naming the call, the runtime's description and the code
     */
    public static void check(int rc, String what) {
        if (rc != 0) {
            throw new IllegalStateException(what + " failed: " + errorString(rc) + " (CUDA error " + rc + ")");
        }
    }

    /** The runtime's description of {@code rc}, or {@code "unknown error"} where it has none. */
    public static String errorString(int rc) {
        try {
            BytePointer s = cudaGetErrorString(rc);
            return s == null ? "unknown error" : s.getString();
        } catch (RuntimeException | LinkageError e) {
            return "unknown error";
        }
    }
}
