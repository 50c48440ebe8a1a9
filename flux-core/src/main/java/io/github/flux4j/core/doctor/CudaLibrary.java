package io.github.flux4j.core.doctor;

import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The CUDA 13 shared libraries that the GPU LibTorch natives ({@code pytorch:2.10.0-1.5.13:linux-x86_64-gpu}
 * and {@code cuda:13.1-9.19-1.5.13:linux-x86_64}) need, by the file name the dynamic linker looks for.
 *
 * <p>The list is the {@code NEEDED} entries of {@code libtorch_cpu.so}, {@code libtorch_cuda.so},
 * {@code libtorch_cuda_linalg.so}, {@code libjnitorch_cuda.so}, {@code libjnitorch_nccl.so} and
 * {@code libjnicudart.so} in those jars ({@code readelf -d}), plus what those CUDA libraries need
 * in turn (nvJitLink) and what is opened at run time (NVRTC). None of them is on Maven Central:
 * they come from a CUDA 13 toolkit, cuDNN and NCCL installation, or from NVIDIA's PyPI wheels
 * ({@link #pipRequirement()}), and the driver provides {@code libcuda.so.1}.
 */
public enum CudaLibrary {
    /** The CUDA runtime; the GPU {@code libtorch_cpu.so} links it, so LibTorch does not even load without it. */
    CUDART("libcudart.so.13", Need.LOAD, "nvidia-cuda-runtime>=13,<14"),
    /** The CUDA profiling tools interface, also linked by the GPU {@code libtorch_cpu.so}. */
    CUPTI("libcupti.so.13", Need.LOAD, "nvidia-cuda-cupti>=13,<14"),
    /** cuBLAS: every matrix product on the GPU. */
    CUBLAS("libcublas.so.13", Need.CUDA, "nvidia-cublas>=13,<14"),
    /** cuBLASLt: cuBLAS's matmul engine (and bf16/fp8 GEMMs). */
    CUBLAS_LT("libcublasLt.so.13", Need.CUDA, "nvidia-cublas>=13,<14"),
    /** cuDNN's entry library (version 9.19 or newer: the version the presets are built against). */
    CUDNN("libcudnn.so.9", Need.CUDA, "nvidia-cudnn-cu13>=9.19"),
    /** cuDNN's graph API (also used by cuDNN attention). */
    CUDNN_GRAPH("libcudnn_graph.so.9", Need.CUDA, "nvidia-cudnn-cu13>=9.19"),
    /** cuDNN's operation library. */
    CUDNN_OPS("libcudnn_ops.so.9", Need.CUDA, "nvidia-cudnn-cu13>=9.19"),
    /** cuDNN's convolutions (the VAE). */
    CUDNN_CNN("libcudnn_cnn.so.9", Need.CUDA, "nvidia-cudnn-cu13>=9.19"),
    /** cuDNN's advanced operations (attention, RNNs). */
    CUDNN_ADV("libcudnn_adv.so.9", Need.CUDA, "nvidia-cudnn-cu13>=9.19"),
    /** cuSPARSE (linked by libtorch_cuda). */
    CUSPARSE("libcusparse.so.12", Need.CUDA, "nvidia-cusparse>=12.6,<13"),
    /** cuFFT (linked by libtorch_cuda). */
    CUFFT("libcufft.so.12", Need.CUDA, "nvidia-cufft>=12,<13"),
    /** cuRAND (linked by libtorch_cuda). */
    CURAND("libcurand.so.10", Need.CUDA, "nvidia-curand>=10.4,<11"),
    /** cuSOLVER (linked by libtorch_cuda_linalg). */
    CUSOLVER("libcusolver.so.12", Need.CUDA, "nvidia-cusolver>=12,<13"),
    /** nvJitLink, which cuSPARSE and cuSOLVER link. */
    NVJITLINK("libnvJitLink.so.13", Need.CUDA, "nvidia-nvjitlink>=13,<14"),
    /** cuFile (GPUDirect Storage; linked by libtorch_cuda, not used by flux4j). */
    CUFILE("libcufile.so.0", Need.CUDA, "nvidia-cufile>=1.15"),
    /** NCCL (linked by libtorch_cuda and jnitorch_nccl; flux4j uses one GPU). */
    NCCL("libnccl.so.2", Need.CUDA, "nvidia-nccl-cu13"),
    /** NVRTC: opened at run time for kernels compiled on the fly (cuDNN's runtime-compiled engines). */
    NVRTC("libnvrtc.so.13", Need.RECOMMENDED, "nvidia-cuda-nvrtc>=13,<14"),
    /** The driver's CUDA library, installed with the NVIDIA driver (never from pip). */
    DRIVER("libcuda.so.1", Need.CUDA, null);

    /** When a library is needed. */
    public enum Need {
        /** To load the GPU LibTorch at all, even for CPU work. */
        LOAD,
        /** To use CUDA. */
        CUDA,
        /** For some kernels; a warning, not an error, when missing. */
        RECOMMENDED
    }

    private final String fileName;
    private final Need need;
    private final @Nullable String pipRequirement;

    CudaLibrary(String fileName, Need need, @Nullable String pipRequirement) {
        this.fileName = fileName;
        this.need = need;
        this.pipRequirement = pipRequirement;
    }

    /** The file name the dynamic linker looks for (the library's soname), e.g. {@code libcudart.so.13}. */
    public String fileName() {
        return fileName;
    }

    /** When this library is needed. */
    public Need need() {
        return need;
    }

    /**
     * The PyPI requirement whose wheel holds this library (CUDA 13 builds), e.g.
     * {@code nvidia-cudnn-cu13>=9.19}; null for the driver's {@code libcuda.so.1}.
     */
    public @Nullable String pipRequirement() {
        return pipRequirement;
    }

    /** True for the cuDNN libraries, whose version must be at least {@link CudaCheck#MIN_CUDNN}. */
    public boolean isCudnn() {
        return name().startsWith("CUDNN");
    }

    @Override
    public String toString() {
        return fileName + " (" + name().toLowerCase(Locale.ROOT) + ")";
    }
}
