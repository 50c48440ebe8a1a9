package io.github.flux4j.core.doctor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Text captured on the H200 CUDA host by tools/reference/doctor/capture-gpu-host.sh, and a fake
 * site-packages tree with the same file names (empty files) as that host's CUDA 13 pip wheels.
 */
final class GpuHostFixture {
    private GpuHostFixture() {}

    static String read(String name) throws IOException {
        try (InputStream in = GpuHostFixture.class.getResourceAsStream("/doctor/h200/" + name)) {
            if (in == null) {
                throw new IOException("missing test resource /doctor/h200/" + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Recreates {@code site-packages} under {@code dir}: the wheels' library files and .dist-info folders. */
    static Path sitePackages(Path dir) throws IOException {
        Path site = dir.resolve("site-packages");
        for (String line : read("site-packages-nvidia-tree.txt").split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            Path file = site.resolve(line.split(" ")[0]);
            Files.createDirectories(file.getParent());
            Files.createFile(file);
        }
        for (String line : read("site-packages-dist-infos.txt").split("\n")) {
            if (!line.isBlank()) {
                Files.createDirectories(site.resolve(line.strip()));
            }
        }
        return site;
    }

    static List<String> lines(String name) throws IOException {
        List<String> out = new ArrayList<>();
        for (String l : read(name).split("\n")) {
            if (!l.isBlank()) {
                out.add(l);
            }
        }
        return out;
    }
}
