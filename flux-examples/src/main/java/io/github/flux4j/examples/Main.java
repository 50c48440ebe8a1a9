package io.github.flux4j.examples;

import io.github.flux4j.examples.tools.SyntheticFluxBase;
import io.github.flux4j.examples.tools.SyntheticFluxGguf;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The one entry point of {@code flux-examples.jar}: {@code java -jar flux-examples.jar COMMAND ...}
 * with the commands
 * <ul>
 *   <li>{@code generate}: text to image ({@link FluxCli}; the demo model when no model is given),</li>
 *   <li>{@code gguf-info}: a GGUF file's metadata and tensors ({@link GgufInfo}),</li>
 *   <li>{@code synthetic-gguf}: a FLUX transformer GGUF with random weights and FLUX.1's names,
 *       shapes and types, for load tests and benchmarks ({@link SyntheticFluxGguf}),</li>
 *   <li>{@code doctor}: natives, CPU features, the CUDA check and the default device ({@link Doctor}).</li>
 *   <li>{@code synthetic-base}: a FLUX.1-dev base model folder (CLIP-L, T5-XXL, VAE, tokenizers) with
 *       random weights and the real layout ({@link SyntheticFluxBase}).</li>
 * </ul>
 * Exit status: that of the command; 2 for a missing or unknown command.
 */
@Command(
        name = "flux4j",
        mixinStandardHelpOptions = true,
        versionProvider = FluxVersion.class,
        usageHelpWidth = 100,
        description = "FLUX.1 text-to-image on LibTorch, and GGUF tools.",
        commandListHeading = "%nCommands:%n",
        footer = {
            "",
            "Run 'COMMAND --help' for a command's options. Example:",
            "  java -jar flux-examples.jar generate --prompt \"a lighthouse at dusk\" --output demo.png"
        })
public final class Main implements Callable<Integer> {
    /** JavaCPP's limits on native memory; models are far larger than its defaults. */
    static final String[] NATIVE_MEMORY_PROPERTIES = {
        "org.bytedeco.javacpp.maxPhysicalBytes", "org.bytedeco.javacpp.maxBytes"
    };

    @CommandLine.Spec
    private CommandLine.Model.@Nullable CommandSpec spec;

    /** Runs the command named by the first argument and exits with its status. */
    public static void main(String[] args) {
        configureNativeMemory();
        FluxCli.stopOnSignal = true;
        System.exit(run(
                new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8),
                args));
    }

    /** Runs with the given output streams; returns the exit status. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        // Named here, so that help and error messages say "flux4j generate", not "flux".
        CommandLine generate = new CommandLine(new FluxCli());
        generate.getCommandSpec().name("generate");
        CommandLine synthetic = new CommandLine(new SyntheticFluxGguf());
        synthetic.getCommandSpec().name("synthetic-gguf");
        CommandLine base = new CommandLine(new SyntheticFluxBase());
        base.getCommandSpec().name("synthetic-base");
        CommandLine cmd = new CommandLine(new Main())
                .addSubcommand(generate)
                .addSubcommand("gguf-info", new GgufInfo())
                .addSubcommand(synthetic)
                .addSubcommand("doctor", new Doctor())
                .addSubcommand(base);
        configure(cmd, out, err);
        int status = cmd.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    /** Without a command: the usage, and status 2. */
    @Override
    public Integer call() {
        CommandLine cl = spec == null ? new CommandLine(this) : spec.commandLine();
        cl.getErr().println("flux4j: missing command");
        cl.usage(cl.getErr());
        return CommandLine.ExitCode.USAGE;
    }

    /**
     * Lifts JavaCPP's native-memory limits ({@code maxPhysicalBytes}, {@code maxBytes} = 0, no
     * limit) unless set on the command line. It must run before the first JavaCPP class loads, as
     * JavaCPP reads them once: FLUX's weights far exceed the defaults, which depend on the heap size.
     */
    public static void configureNativeMemory() {
        for (String key : NATIVE_MEMORY_PROPERTIES) {
            if (System.getProperty(key) == null) {
                System.setProperty(key, "0");
            }
        }
    }

    /**
     * The shared command-line behaviour: case-insensitive option values, a usage error as one line
     * plus a hint (status 2), an exception that escapes a command as one line, with the status
     * {@link FluxCli#exitCode} gives it.
     */
    static CommandLine configure(CommandLine cmd, PrintWriter out, PrintWriter err) {
        cmd.setOut(out);
        cmd.setErr(err);
        cmd.setCaseInsensitiveEnumValuesAllowed(true);
        cmd.setOverwrittenOptionsAllowed(true); // the last one wins, as in most Unix tools (handy in scripts)
        cmd.setParameterExceptionHandler((e, args) -> {
            CommandLine c = e.getCommandLine();
            String name = commandName(c);
            c.getErr().println(name + ": " + e.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(e, c.getErr())) {
                c.getErr().println("Try '" + name + " --help' for the options.");
            }
            return CommandLine.ExitCode.USAGE;
        });
        cmd.setExecutionExceptionHandler((e, c, parsed) -> {
            c.getErr().println(commandName(c) + ": " + e);
            return FluxCli.exitCode(e);
        });
        return cmd;
    }

    /** The command as typed: {@code flux}, or {@code flux4j generate} for a subcommand. */
    static String commandName(CommandLine c) {
        CommandLine parent = c.getParent();
        return parent == null ? c.getCommandName() : commandName(parent) + " " + c.getCommandName();
    }
}
