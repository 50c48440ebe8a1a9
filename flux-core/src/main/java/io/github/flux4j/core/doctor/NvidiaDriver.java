package io.github.flux4j.core.doctor;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The NVIDIA kernel driver's version and the GPUs it sees, read without loading any CUDA library:
 * the version from {@code /proc/driver/nvidia/version}, the GPUs (name, compute capability,
 * memory) from {@code nvidia-smi} when it is installed.
 *
 * @param version the driver version (e.g. {@code 580.95.05}), or null if no driver was found
 * @param versionSource where the version came from, or a sentence saying why there is none
 * @param gpus the GPUs {@code nvidia-smi} lists (empty without it)
 * @param gpuSource {@code nvidia-smi}, or a sentence saying why the GPUs are unknown
 */
public record NvidiaDriver(@Nullable String version, String versionSource, List<Gpu> gpus, String gpuSource) {
    /** The kernel module's banner, e.g. "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05  ...". */
    public static final Path PROC_VERSION = Path.of("/proc/driver/nvidia/version");

    private static final Pattern NVRM =
            Pattern.compile("NVRM version:.*?Kernel Module(?: for \\S+)?\\s+(\\d+\\.\\d+(?:\\.\\d+)?)");

    /**
     * One GPU.
     *
     * @param index nvidia-smi's index (CUDA's ordinal unless {@code CUDA_VISIBLE_DEVICES} reorders)
     * @param name e.g. {@code NVIDIA H200}
     * @param computeCapability e.g. {@code 9.0}; null if nvidia-smi did not say
     * @param memoryMiB total memory in MiB; -1 if unknown
     */
    public record Gpu(int index, String name, @Nullable NumericVersion computeCapability, long memoryMiB) {}

    /** Copies the list. */
    public NvidiaDriver {
        gpus = List.copyOf(gpus);
    }

    /** The driver version as a number, if known and numeric. */
    public Optional<NumericVersion> parsedVersion() {
        if (version == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(NumericVersion.parse(version));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Reads this machine's driver: {@code /proc/driver/nvidia/version}, then {@code nvidia-smi}. */
    public static NvidiaDriver probe() {
        String proc = Files.isReadable(PROC_VERSION) ? LibrarySearch.readOrEmpty(PROC_VERSION) : null;
        Path smi = findOnPath("nvidia-smi");
        String smiOut = smi == null
                ? null
                : Processes.run(
                                List.of(
                                        smi.toString(),
                                        "--query-gpu=index,name,compute_cap,driver_version,memory.total",
                                        "--format=csv,noheader,nounits"),
                                15,
                                TimeUnit.SECONDS)
                        .orElse("");
        return from(proc, smiOut);
    }

    /**
     * Builds the answer from the two sources' text (tests pass recorded text).
     *
     * @param procVersion the contents of {@link #PROC_VERSION}, or null if it does not exist
     * @param smiCsv {@code nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total
     *     --format=csv,noheader,nounits} output, "" if it failed, null if nvidia-smi is not installed
     */
    public static NvidiaDriver from(@Nullable String procVersion, @Nullable String smiCsv) {
        String version = null;
        String versionSource;
        if (procVersion == null) {
            versionSource = PROC_VERSION + " does not exist (no NVIDIA kernel driver loaded)";
        } else {
            Matcher m = NVRM.matcher(procVersion);
            if (m.find()) {
                version = m.group(1);
                versionSource = PROC_VERSION.toString();
            } else {
                versionSource = PROC_VERSION + " has no version in it";
            }
        }
        List<Gpu> gpus = new ArrayList<>();
        String gpuSource;
        if (smiCsv == null) {
            gpuSource = "nvidia-smi is not on the PATH, so GPU models and compute capabilities are unknown";
        } else if (smiCsv.isBlank()) {
            gpuSource = "nvidia-smi failed or listed no GPU";
        } else {
            gpuSource = "nvidia-smi";
            for (String line : smiCsv.split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                String[] f = line.split(",");
                if (f.length < 5) {
                    continue;
                }
                try {
                    int index = Integer.parseInt(f[0].strip());
                    String name = f[1].strip();
                    NumericVersion cc = parseOrNull(f[2].strip());
                    long mem = parseLongOr(f[4].strip(), -1);
                    gpus.add(new Gpu(index, name, cc, mem));
                    if (version == null && parseOrNull(f[3].strip()) != null) {
                        version = f[3].strip();
                        versionSource = "nvidia-smi";
                    }
                } catch (NumberFormatException e) {
                    // Not a GPU line (a warning nvidia-smi printed): skip it.
                }
            }
        }
        return new NvidiaDriver(version, versionSource, gpus, gpuSource);
    }

    private static @Nullable NumericVersion parseOrNull(String s) {
        try {
            return NumericVersion.parse(s);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static long parseLongOr(String s, long fallback) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    /** The executable {@code name} in a {@code PATH} folder or {@code /usr/bin}, or null. */
    static @Nullable Path findOnPath(String name) {
        List<String> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        dirs.add("/usr/bin");
        for (String d : dirs) {
            if (d.isBlank()) {
                continue;
            }
            Path p = Path.of(d, name);
            if (Files.isExecutable(p) && !Files.isDirectory(p)) {
                return p;
            }
        }
        return null;
    }
}
