/**
 * Whether this machine can run flux4j, and why not: which LibTorch natives jars are on the class
 * path ({@link io.github.flux4j.core.doctor.PytorchNatives}), which CUDA 13 libraries the GPU
 * natives need and where they were found ({@link io.github.flux4j.core.doctor.CudaLibrary},
 * {@link io.github.flux4j.core.doctor.LibrarySearch}), the NVIDIA driver and GPUs
 * ({@link io.github.flux4j.core.doctor.NvidiaDriver}), all of it in one report
 * ({@link io.github.flux4j.core.doctor.CudaCheck}), and the CPU's vector extensions
 * ({@link io.github.flux4j.core.doctor.CpuFeatures}).
 *
 * <p>Nothing here loads LibTorch: {@link io.github.flux4j.core.torch.Torch#init()} runs these checks
 * first, so that a wrong natives mix fails with a message instead of an {@code UnsatisfiedLinkError}
 * deep inside JavaCPP. The probes read files and run {@code ldconfig -p} and {@code nvidia-smi} when
 * present; their parsers take text, so they are tested without a GPU.
 */
@NullMarked
package io.github.flux4j.core.doctor;

import org.jspecify.annotations.NullMarked;
