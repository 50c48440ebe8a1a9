package io.github.flux4j.core.doctor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The CPU's model and the vector extensions that matter for LibTorch on the CPU, from the
 * {@code flags} line of {@code /proc/cpuinfo}: AVX2 and FMA (LibTorch's AVX2 kernels), AVX-512
 * (its AVX-512 kernels), AVX-512 BF16 and AMX (fast bfloat16 matrix products in oneDNN).
 *
 * @param model the {@code model name}, or "unknown"
 * @param flags every flag the kernel reports
 */
public record CpuFeatures(String model, Set<String> flags) {
    /** The flags worth reporting, in the order printed. */
    public static final List<String> NOTABLE = List.of(
            "sse4_2",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512_vnni",
            "avx512_bf16",
            "avx512_fp16",
            "amx_tile",
            "amx_bf16",
            "amx_int8");

    /** Copies the flags. */
    public CpuFeatures {
        flags = Set.copyOf(flags);
    }

    /** This machine's CPU; no flags when {@code /proc/cpuinfo} cannot be read (not Linux). */
    public static CpuFeatures probe() {
        return parse(LibrarySearch.readOrEmpty(Path.of("/proc/cpuinfo")));
    }

    /** Parses {@code /proc/cpuinfo} text (the first processor's entries). */
    public static CpuFeatures parse(String cpuinfo) {
        String model = "unknown";
        Set<String> flags = new LinkedHashSet<>();
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).strip();
            String value = line.substring(colon + 1).strip();
            if (key.equals("model name") && model.equals("unknown")) {
                model = value;
            } else if (key.equals("flags") && flags.isEmpty()) {
                flags.addAll(List.of(value.split("\\s+")));
            }
        }
        return new CpuFeatures(model, flags);
    }

    /** Whether the CPU reports {@code flag}. */
    public boolean has(String flag) {
        return flags.contains(flag);
    }

    /** The {@link #NOTABLE} flags present. */
    public List<String> present() {
        List<String> out = new ArrayList<>();
        for (String f : NOTABLE) {
            if (has(f)) {
                out.add(f);
            }
        }
        return out;
    }

    /** The {@link #NOTABLE} flags absent. */
    public List<String> absent() {
        List<String> out = new ArrayList<>();
        for (String f : NOTABLE) {
            if (!has(f)) {
                out.add(f);
            }
        }
        return out;
    }
}
