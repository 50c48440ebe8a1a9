package io.github.flux4j.core.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PytorchNativesTest {
    private static final String PLATFORM = "linux-x86_64";

    @TempDir
    Path tmp;

    /** A class loader over folders that hold the JNI libraries of the named natives jars (empty files). */
    private URLClassLoader classPath(String... jars) throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String jar : jars) {
            Path root = Files.createDirectories(tmp.resolve(jar));
            String resource = switch (jar) {
                case "pytorch-cpu" -> "org/bytedeco/pytorch/linux-x86_64/libjnitorch.so";
                case "pytorch-gpu" -> "org/bytedeco/pytorch/linux-x86_64-gpu/libjnitorch.so";
                case "javacpp" -> "org/bytedeco/javacpp/linux-x86_64/libjnijavacpp.so";
                case "openblas" -> "org/bytedeco/openblas/linux-x86_64/libjniopenblas_nolapack.so";
                case "cuda" -> "org/bytedeco/cuda/linux-x86_64/libjnicudart.so";
                default -> throw new IllegalArgumentException(jar);
            };
            Files.createDirectories(root.resolve(resource).getParent());
            Files.createFile(root.resolve(resource));
            urls.add(root.toUri().toURL());
        }
        return new URLClassLoader(urls.toArray(URL[]::new), null);
    }

    @Test
    void theCpuBlockLoadsTheCpuBuild() throws Exception {
        try (URLClassLoader cl = classPath("pytorch-cpu", "javacpp", "openblas")) {
            PytorchNatives n = PytorchNatives.find(cl, PLATFORM, null);
            assertThat(n.variant()).isEqualTo(PytorchNatives.Variant.CPU);
            assertThat(n.cpu()).containsExactly(tmp.resolve("pytorch-cpu").toString());
            assertThat(n.loadProblems()).isEmpty();
            assertThat(n.cudaProblems()).isEmpty();
        }
    }

    @Test
    void theGpuBlockLoadsTheGpuBuild() throws Exception {
        try (URLClassLoader cl = classPath("pytorch-gpu", "javacpp", "openblas", "cuda")) {
            PytorchNatives n = PytorchNatives.find(cl, PLATFORM, null);
            assertThat(n.variant()).isEqualTo(PytorchNatives.Variant.GPU);
            assertThat(n.loadProblems()).isEmpty();
            assertThat(n.cudaProblems()).isEmpty();
        }
    }

    @Test
    void bothNativesJarsAreAnErrorUnlessTheExtensionIsChosen() throws Exception {
        try (URLClassLoader cl = classPath("pytorch-cpu", "pytorch-gpu", "javacpp", "openblas")) {
            PytorchNatives n = PytorchNatives.find(cl, PLATFORM, null);
            assertThat(n.loadProblems())
                    .singleElement()
                    .asString()
                    .contains(
                            "Both LibTorch natives jars",
                            "pytorch-cpu",
                            "pytorch-gpu",
                            "-Dorg.bytedeco.javacpp.platform.extension=-gpu");
            assertThat(PytorchNatives.find(cl, PLATFORM, "").variant()).isEqualTo(PytorchNatives.Variant.CPU);
            assertThat(PytorchNatives.find(cl, PLATFORM, "").loadProblems()).isEmpty();
            assertThat(PytorchNatives.find(cl, PLATFORM, "-gpu").variant()).isEqualTo(PytorchNatives.Variant.GPU);
        }
    }

    @Test
    void missingNativesAreNamedWithTheirCoordinates() throws Exception {
        try (URLClassLoader cl = classPath()) {
            PytorchNatives n = PytorchNatives.find(cl, PLATFORM, null);
            assertThat(n.variant()).isEqualTo(PytorchNatives.Variant.NONE);
            assertThat(n.loadProblems()).hasSize(3);
            assertThat(String.join("\n", n.loadProblems()))
                    .contains(
                            "org.bytedeco:pytorch:2.10.0-1.5.13 with classifier linux-x86_64 (CPU) or linux-x86_64-gpu (CUDA)",
                            "org.bytedeco:javacpp:1.5.13 with classifier linux-x86_64",
                            "org.bytedeco:openblas:0.3.31-1.5.13 with classifier linux-x86_64");
        }
        try (URLClassLoader cl = classPath("pytorch-gpu", "javacpp", "openblas")) {
            assertThat(PytorchNatives.find(cl, PLATFORM, null).cudaProblems())
                    .singleElement()
                    .asString()
                    .contains("org.bytedeco:cuda:13.1-9.19-1.5.13 with classifier linux-x86_64");
        }
    }

    @Test
    void thisBuildsTestClassPathHasExactlyOneNativesBlock() {
        PytorchNatives n = PytorchNatives.find();
        assertThat(n.loadProblems()).isEmpty();
        assertThat(n.cpu().size() + n.gpu().size()).isEqualTo(1);
    }

    @Test
    void jarUrlsNameTheJar() throws Exception {
        String resource = "org/bytedeco/pytorch/linux-x86_64/libjnitorch.so";
        assertThat(PytorchNatives.containerOf(
                        new URL("jar:file:/m2/pytorch-2.10.0-1.5.13-linux-x86_64.jar!/" + resource), resource))
                .isEqualTo("/m2/pytorch-2.10.0-1.5.13-linux-x86_64.jar");
    }
}
