package io.github.flux4j.examples;

import io.github.flux4j.core.doctor.CpuFeatures;
import io.github.flux4j.core.doctor.CudaCheck;
import io.github.flux4j.core.doctor.PytorchNatives;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.torch.Torch;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.global.torch;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code doctor}: whether this machine can run flux4j, and on what. Prints the flux4j and Java
 * versions, the natives jars found and the LibTorch build that loads, the CPU's vector extensions,
 * whether LibTorch loads (and its CPU kernel level), the CUDA check ({@link CudaCheck}: driver,
 * GPUs, each CUDA 13 library and where it is, what is missing and how to get it) and the device
 * {@code generate} uses by default.
 *
 * <p>Exit status: 0 when LibTorch loads (on the CPU at least), 1 when it cannot (the reason is
 * printed), 2 on a usage error. A machine without CUDA is not an error.
 */
@Command(
        name = "doctor",
        mixinStandardHelpOptions = true,
        versionProvider = FluxVersion.class,
        description = {
            "Checks this machine: flux4j and Java versions, LibTorch natives, CPU features, the CUDA 13"
                    + " driver, GPUs and libraries (what is missing and where to get it), and the default device."
        },
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:LibTorch loads (CUDA may still be unavailable)", "1:LibTorch cannot load", "2:usage error"})
public final class Doctor implements Callable<Integer> {
    @CommandLine.Spec
    private CommandLine.Model.@Nullable CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec == null
                ? new PrintWriter(System.out, true)
                : spec.commandLine().getOut();
        out.println(("flux4j " + FluxVersion.version()) + ", Java " + System.getProperty("java.version") + " ("
                + System.getProperty("java.vendor") + "), " + System.getProperty("os.name") + " "
                + System.getProperty("os.arch"));

        PytorchNatives natives = PytorchNatives.find();
        out.println();
        out.println("Natives on the class path:");
        natives.describe().forEach(l -> out.println("  " + l));

        CpuFeatures cpu = CpuFeatures.probe();
        out.println();
        out.println("CPU: " + cpu.model() + ", " + Runtime.getRuntime().availableProcessors() + " logical processors");
        out.println("  has:   "
                + (cpu.present().isEmpty() ? "(none of the notable ones)" : String.join(" ", cpu.present())));
        out.println("  lacks: " + (cpu.absent().isEmpty() ? "(none)" : String.join(" ", cpu.absent())));

        out.println();
        boolean loads;
        try {
            long t0 = System.nanoTime();
            Torch.init();
            loads = true;
            out.printf(
                    Locale.ROOT,
                    "LibTorch: loads (%.1f s); CPU kernels: %s; intra-op threads: %d%n",
                    (System.nanoTime() - t0) / 1e9,
                    torch.get_cpu_capability().getString(),
                    Torch.intraOpThreads());
        } catch (IllegalStateException | IllegalArgumentException | LinkageError e) {
            loads = false;
            out.println("LibTorch: cannot load");
            out.println(indent(String.valueOf(e.getMessage())));
        }

        CudaCheck.Report cuda = CudaCheck.run();
        out.println();
        out.println("CUDA:");
        cuda.describe().forEach(l -> out.println("  " + l));
        out.println(indent(cuda.message()));

        // Probing loads libtorch_cuda; only worth it (and only quiet) when the check found everything.
        FluxDevice device = loads && cuda.ready() && FluxDevice.cudaAvailable() ? FluxDevice.cuda(0) : FluxDevice.cpu();
        out.println();
        out.println("Default device: "
                + (loads ? device + " (what generate uses without --device)" : "none (LibTorch cannot load)"));
        return loads ? CommandLine.ExitCode.OK : CommandLine.ExitCode.SOFTWARE;
    }

    private static String indent(String text) {
        return "  " + text.replace("\n", "\n  ");
    }
}
