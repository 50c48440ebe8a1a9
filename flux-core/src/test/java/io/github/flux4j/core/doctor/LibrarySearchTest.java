package io.github.flux4j.core.doctor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LibrarySearchTest {
    @TempDir
    Path tmp;

    private static LibrarySearch only(List<Path> roots) {
        return new LibrarySearch(roots, List.of(), List.of(), Map.of(), List.of());
    }

    @Test
    void findsEveryPipLibraryUnderSitePackagesNvidia() throws Exception {
        Path nvidia = GpuHostFixture.sitePackages(tmp).resolve("nvidia");
        Map<CudaLibrary, LibrarySearch.Found> found = only(List.of(nvidia)).find();

        List<CudaLibrary> expected = new ArrayList<>(List.of(CudaLibrary.values()));
        expected.remove(CudaLibrary.DRIVER); // from the driver, never in a wheel
        assertThat(found.keySet()).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(found.get(CudaLibrary.CUDART).path()).isEqualTo(nvidia.resolve("cu13/lib/libcudart.so.13"));
        assertThat(found.get(CudaLibrary.NCCL).path()).isEqualTo(nvidia.resolve("nccl/lib/libnccl.so.2"));
        assertThat(found.values()).allSatisfy(f -> assertThat(f.source()).isEqualTo(LibrarySearch.ENV));
        // The wheel's files carry only the major version; the .dist-info folder has the full one.
        assertThat(found.get(CudaLibrary.CUDNN).version()).isEqualTo(NumericVersion.parse("9.19.0.56"));
        assertThat(found.get(CudaLibrary.CUDNN_CNN).version()).isEqualTo(NumericVersion.parse("9.19.0.56"));
    }

    @Test
    void preloadsTheLibrariesAndTheirCompanionsOnly() throws Exception {
        Path nvidia = GpuHostFixture.sitePackages(tmp).resolve("nvidia");
        List<String> names = only(List.of(nvidia)).preloadCandidates().stream()
                .map(p -> p.getFileName().toString())
                .toList();
        List<String> expected = new ArrayList<>();
        for (CudaLibrary lib : CudaLibrary.values()) {
            if (lib != CudaLibrary.DRIVER) {
                expected.add(lib.fileName());
            }
        }
        expected.addAll(List.of(
                "libcudnn_engines_precompiled.so.9",
                "libcudnn_engines_runtime_compiled.so.9",
                "libcudnn_heuristic.so.9",
                "libnvrtc-builtins.so.13.0"));
        // Not libcusolverMg, libnvblas, libcusparseLt, nvshmem, the .alt NVRTC: nothing links them.
        assertThat(names).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void followsTheLinkersOrderAndReadsVersionsFromLinkedFileNames() throws Exception {
        Path ld = Files.createDirectories(tmp.resolve("ld"));
        Path sys = Files.createDirectories(tmp.resolve("usr/lib/x86_64-linux-gnu"));
        Files.createFile(ld.resolve("libcudart.so.13"));
        Files.createFile(sys.resolve("libcudart.so.13"));
        Files.createFile(sys.resolve("libcudnn.so.9.10.2"));
        Files.createSymbolicLink(sys.resolve("libcudnn.so.9"), Path.of("libcudnn.so.9.10.2"));
        Files.createFile(sys.resolve("libcuda.so.580.159.04"));
        Files.createSymbolicLink(sys.resolve("libcuda.so.1"), Path.of("libcuda.so.580.159.04"));
        Map<String, Path> cache = LibrarySearch.parseLdconfig("3 libs found in cache `/etc/ld.so.cache'\n"
                + "\tlibcudnn.so.9 (libc6,x86-64) => " + sys.resolve("libcudnn.so.9") + "\n"
                + "\tlibcuda.so.1 (libc6) => /usr/lib32/libcuda.so.1\n"
                + "\tlibcuda.so.1 (libc6,x86-64) => " + sys.resolve("libcuda.so.1") + "\n"
                + "\tlibcudart.so.13 (libc6,x86-64) => " + sys.resolve("libcudart.so.13") + "\n");
        assertThat(cache.get("libcuda.so.1")).isEqualTo(sys.resolve("libcuda.so.1")); // the 32-bit one skipped

        Map<CudaLibrary, LibrarySearch.Found> found =
                new LibrarySearch(List.of(), List.of(ld), List.of(), cache, List.of()).find();
        assertThat(found.get(CudaLibrary.CUDART).source()).isEqualTo("LD_LIBRARY_PATH");
        assertThat(found.get(CudaLibrary.CUDNN).source()).isEqualTo("ldconfig");
        assertThat(found.get(CudaLibrary.CUDNN).version()).isEqualTo(NumericVersion.parse("9.10.2"));
        assertThat(found.get(CudaLibrary.DRIVER).version()).isEqualTo(NumericVersion.parse("580.159.04"));
        assertThat(found).doesNotContainKey(CudaLibrary.CUBLAS);
    }

    @Test
    void aSiblingFileTellsTheVersionWhenTheLinkDoesNot() throws Exception {
        Path lib = Files.createDirectories(tmp.resolve("lib"));
        Files.createFile(lib.resolve("libcudnn.so.9"));
        Files.createFile(lib.resolve("libcudnn.so.9.21.1"));
        assertThat(LibrarySearch.versionOf(lib.resolve("libcudnn.so.9"))).isEqualTo(NumericVersion.parse("9.21.1"));
        Files.createFile(lib.resolve("libcudnn_ops.so.9"));
        assertThat(LibrarySearch.versionOf(lib.resolve("libcudnn_ops.so.9"))).isNull();
    }

    @Test
    void aMissingFolderIsNamed() {
        Path missing = tmp.resolve("no-such-site-packages/nvidia");
        assertThatThrownBy(() -> only(List.of(missing)).find())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("FLUX4J_CUDA_LIBS")
                .hasMessageContaining(missing.toString());
    }

    @Test
    void splitsPathLists() {
        assertThat(LibrarySearch.splitPath("/a::/b ")).containsExactly(Path.of("/a"), Path.of("/b"));
        assertThat(LibrarySearch.splitPath(null)).isEmpty();
    }
}
