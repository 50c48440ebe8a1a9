package io.github.flux4j.examples;

import io.github.flux4j.core.torch.FluxDevice;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.cuda.DeviceStats;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * Peak GPU memory of LibTorch's CUDA caching allocator ({@code torch.cuda.max_memory_allocated}
 * and {@code max_memory_reserved}). Only touched for CUDA devices: with the CPU natives the CUDA
 * classes cannot load.
 */
final class CudaMemory {
    private CudaMemory() {}

    /** Starts a new peak ({@code torch.cuda.reset_peak_memory_stats}); nothing for the CPU. */
    static void resetPeak(FluxDevice device) {
        if (device.isCuda()) {
            torch_cuda.getAllocator().resetPeakStats((byte) device.index());
        }
    }

    /** {@code {peak allocated bytes, peak reserved bytes}} since the last reset; empty for the CPU or on failure. */
    static Optional<long[]> peak(FluxDevice device) {
        if (!device.isCuda()) {
            return Optional.empty();
        }
        try (PointerScope scope = new PointerScope()) {
            DeviceStats stats = torch_cuda.getAllocator().getDeviceStats((byte) device.index());
            // allocated_bytes / reserved_bytes are StatArrays; element 0 is the aggregate over pools.
            return Optional.of(new long[] {
                stats.allocated_bytes().peak(), stats.reserved_bytes().peak()
            });
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }
}
