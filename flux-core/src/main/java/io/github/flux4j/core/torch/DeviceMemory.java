package io.github.flux4j.core.torch;

import java.util.Locale;
import java.util.Optional;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.SizeTPair;
import org.bytedeco.pytorch.cuda.CUDAAllocator;
import org.bytedeco.pytorch.cuda.DeviceStats;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * A CUDA device's memory as LibTorch's caching allocator and the driver see it, for messages
 * about running out of memory ({@code torch.cuda.memory_allocated}, {@code memory_reserved},
 * {@code mem_get_info}).
 *
 * @param device    the device
 * @param allocated bytes held by live tensors
 * @param reserved  bytes the caching allocator holds (live tensors and its cache)
 * @param free      bytes the driver reports free on the device
 * @param total     the device's capacity in bytes
 */
public record DeviceMemory(FluxDevice device, long allocated, long reserved, long free, long total) {

    /**
     * The figures of a CUDA device now; empty for the CPU, or if CUDA cannot be queried (the CPU
     * natives, no driver), so that an error path never fails on them.
     */
    public static Optional<DeviceMemory> of(FluxDevice device) {
        if (!device.isCuda() || !FluxDevice.cudaAvailable()) {
            return Optional.empty();
        }
        try (PointerScope scope = new PointerScope()) {
            CUDAAllocator alloc = torch_cuda.getAllocator();
            byte index = (byte) device.index();
            DeviceStats stats = alloc.getDeviceStats(index);
            SizeTPair info = alloc.getMemoryInfo(index);
            // StatArrays: element 0 is the aggregate over the pools.
            return Optional.of(new DeviceMemory(
                    device,
                    stats.allocated_bytes().current(),
                    stats.reserved_bytes().current(),
                    info.first(),
                    info.second()));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** As {@code "GPU 139.8 GiB, 1.2 GiB free; tensors 130.1 GiB, allocator 133.0 GiB"}. */
    @Override
    public String toString() {
        return device + " has " + gib(total) + " GiB, " + gib(free) + " GiB free; live tensors hold " + gib(allocated)
                + " GiB, LibTorch's allocator " + gib(reserved) + " GiB";
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f", bytes / (double) (1L << 30));
    }
}
