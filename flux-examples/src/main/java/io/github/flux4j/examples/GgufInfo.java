package io.github.flux4j.examples;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufException;
import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.gguf.GgufValue;
import io.github.flux4j.gguf.GgufValueType;
import io.github.flux4j.gguf.TensorInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code gguf-info FILE}: prints a GGUF file's header, metadata, tensors and totals by type, in
 * the spirit of gguf-py's {@code gguf_dump}. Long arrays and strings are abbreviated; with
 * {@code --json} everything is printed in full as one JSON object.
 *
 * <p>Exit status: 0 on success, 1 if the file cannot be read or is not valid GGUF (one line on
 * standard error naming the file and the reason), 2 on a usage error.
 */
@Command(
        name = "gguf-info",
        mixinStandardHelpOptions = true,
        versionProvider = FluxVersion.class,
        description = "Prints the header, metadata, tensors and per-type totals of a GGUF file.")
public final class GgufInfo implements Callable<Integer> {
    /** Array elements shown before "..." (as gguf_dump). */
    static final int ARRAY_ELEMENTS_SHOWN = 6;
    /** Strings longer than this are cut (as gguf_dump). */
    static final int STRING_CHARS_SHOWN = 60;

    @Parameters(index = "0", paramLabel = "FILE", description = "The GGUF file.")
    private Path file = Path.of("");

    @Option(names = "--json", description = "Print everything, arrays in full, as JSON.")
    private boolean json;

    @Option(names = "--no-tensors", description = "Leave out the tensor table and the totals.")
    private boolean noTensors;

    @CommandLine.Spec
    private CommandLine.Model.@Nullable CommandSpec spec;

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        System.exit(run(
                new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8),
                args));
    }

    /** Runs the command with the given output streams; returns the exit status. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cmd = new CommandLine(new GgufInfo());
        cmd.setOut(out);
        cmd.setErr(err);
        // Anything unexpected still ends in one line, not a stack trace.
        cmd.setExecutionExceptionHandler((e, c, parsed) -> {
            c.getErr().println("gguf-info: " + e);
            return 1;
        });
        int status = cmd.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec().commandLine().getOut();
        PrintWriter err = spec().commandLine().getErr();
        try (GgufFile g = GgufFile.open(file)) {
            if (json) {
                printJson(out, g);
            } else {
                printText(out, g);
            }
            return 0;
        } catch (GgufException e) {
            // Format errors already name the file, the byte offset and the reason.
            String message = String.valueOf(e.getMessage());
            err.println("gguf-info: " + (message.contains(file.toString()) ? "" : file + ": ") + message);
            return 1;
        } catch (FluxIoException e) {
            IOException cause = e.getCause();
            String why = cause instanceof NoSuchFileException
                    ? "no such file"
                    : cause instanceof AccessDeniedException
                            ? "permission denied"
                            : "cannot read: " + cause.getMessage();
            err.println("gguf-info: " + file + ": " + why);
            return 1;
        }
    }

    private CommandLine.Model.CommandSpec spec() {
        if (spec == null) {
            throw new IllegalStateException("picocli did not inject the command spec");
        }
        return spec;
    }

    private void printText(PrintWriter out, GgufFile g) {
        out.printf(Locale.ROOT, "file:        %s (%d bytes)%n", g.path(), g.fileSize());
        out.printf(Locale.ROOT, "version:     %d%n", g.version());
        out.printf(Locale.ROOT, "alignment:   %d%n", g.alignment());
        out.printf(Locale.ROOT, "data offset: %d%n", g.dataOffset());

        Map<String, GgufValue> metadata = g.metadata().asMap();
        out.printf(Locale.ROOT, "* %d metadata keys%n", metadata.size());
        int n = 0;
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            GgufValue v = e.getValue();
            int count = v instanceof GgufValue.Array a ? a.size() : 1;
            out.printf(Locale.ROOT, "  %5d: %-10s | %8d | %s = %s%n", ++n, typeName(v), count, e.getKey(), text(v));
        }
        if (noTensors) {
            return;
        }

        List<TensorInfo> tensors = g.tensors();
        out.printf(Locale.ROOT, "* %d tensors (shape in row-major order, outermost first)%n", tensors.size());
        int shapeWidth = tensors.stream()
                .mapToInt(t -> Arrays.toString(t.shape()).length())
                .max()
                .orElse(5);
        n = 0;
        for (TensorInfo t : tensors) {
            out.printf(
                    Locale.ROOT,
                    "  %5d: %-7s | %-" + shapeWidth + "s | %12d bytes | %s%n",
                    ++n,
                    t.type(),
                    Arrays.toString(t.shape()),
                    t.byteSize(),
                    t.storedName());
        }

        Map<GgmlType, long[]> totals = new EnumMap<>(GgmlType.class); // type -> {tensors, elements, bytes}
        long[] all = new long[3];
        for (TensorInfo t : tensors) {
            long[] sum = totals.computeIfAbsent(t.type(), k -> new long[3]);
            for (long[] s : List.of(sum, all)) {
                s[0]++;
                s[1] += t.elementCount();
                s[2] += t.byteSize();
            }
        }
        out.println("* totals by type");
        for (Map.Entry<GgmlType, long[]> e : totals.entrySet()) {
            printTotal(out, e.getKey().name(), e.getValue());
        }
        printTotal(out, "all", all);
    }

    private static void printTotal(PrintWriter out, String label, long[] t) {
        out.printf(
                Locale.ROOT,
                "  %-7s | %6d tensors | %14d elements | %14d bytes (%s)%n",
                label,
                t[0],
                t[1],
                t[2],
                human(t[2]));
    }

    /** gguf_dump's notation: [INT32] for an array of INT32, [[STRING]] nested, by the first element. */
    static String typeName(GgufValue v) {
        if (!(v instanceof GgufValue.Array a)) {
            return v.type().name();
        }
        if (a.elementType() == GgufValueType.ARRAY && a.size() > 0) {
            return "[" + typeName(a.elements().get(0)) + "]";
        }
        return "[" + a.elementType().name() + "]";
    }

    /** A value for the text listing: strings quoted and cut, arrays abbreviated. */
    static String text(GgufValue v) {
        if (v instanceof GgufValue.Str s) {
            String str = s.value();
            if (str.codePointCount(0, str.length()) > STRING_CHARS_SHOWN) {
                str = str.substring(0, str.offsetByCodePoints(0, STRING_CHARS_SHOWN - 3)) + "...";
            }
            return quote(str);
        }
        if (v instanceof GgufValue.Array a) {
            StringBuilder b = new StringBuilder("[");
            int shown = Math.min(a.size(), ARRAY_ELEMENTS_SHOWN);
            for (int i = 0; i < shown; i++) {
                b.append(i > 0 ? ", " : "").append(text(a.elements().get(i)));
            }
            if (a.size() > shown) {
                b.append(", ... (").append(a.size()).append(" elements)");
            }
            return b.append(']').toString();
        }
        return scalar(v);
    }

    private static String scalar(GgufValue v) {
        if (v instanceof GgufValue.UInt64 u) {
            return u.unsignedString();
        }
        return String.valueOf(v.toJava()); // Float.toString: the shortest decimal that reads back
    }

    /** Single-quoted, with backslash escapes for quotes, backslashes and control characters. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder("'");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\'' -> b.append("\\'");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7F) {
                        b.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('\'').toString();
    }

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }

    private void printJson(PrintWriter out, GgufFile g) {
        StringBuilder b = new StringBuilder();
        b.append("{\n  \"file\": ")
                .append(jsonString(g.path().toString()))
                .append(",\n  \"file_size\": ")
                .append(g.fileSize())
                .append(",\n  \"version\": ")
                .append(g.version())
                .append(",\n  \"alignment\": ")
                .append(g.alignment())
                .append(",\n  \"data_offset\": ")
                .append(g.dataOffset())
                .append(",\n  \"metadata\": {");
        String sep = "\n";
        for (Map.Entry<String, GgufValue> e : g.metadata().asMap().entrySet()) {
            b.append(sep)
                    .append("    ")
                    .append(jsonString(e.getKey()))
                    .append(": {\"type\": ")
                    .append(jsonString(typeName(e.getValue())))
                    .append(", \"value\": ");
            json(b, e.getValue());
            b.append('}');
            sep = ",\n";
        }
        b.append(g.metadata().size() == 0 ? "}" : "\n  }");
        if (!noTensors) {
            b.append(",\n  \"tensors\": [");
            sep = "\n";
            for (TensorInfo t : g.tensors()) {
                b.append(sep)
                        .append("    {\"name\": ")
                        .append(jsonString(t.storedName()))
                        .append(", \"type\": \"")
                        .append(t.type())
                        .append('"')
                        .append(", \"shape\": ")
                        .append(Arrays.toString(t.shape()))
                        .append(", \"offset\": ")
                        .append(t.offset())
                        .append(", \"bytes\": ")
                        .append(t.byteSize())
                        .append('}');
                sep = ",\n";
            }
            b.append(g.tensors().isEmpty() ? "]" : "\n  ]");
        }
        out.println(b.append("\n}"));
    }

    private static void json(StringBuilder b, GgufValue v) {
        if (v instanceof GgufValue.Str s) {
            b.append(jsonString(s.value()));
        } else if (v instanceof GgufValue.Array a) {
            b.append('[');
            for (int i = 0; i < a.size(); i++) {
                if (i > 0) {
                    b.append(", ");
                }
                json(b, a.elements().get(i));
            }
            b.append(']');
        } else if (v instanceof GgufValue.Float32 f && !Float.isFinite(f.value())
                || v instanceof GgufValue.Float64 d && !Double.isFinite(d.value())) {
            // JSON has no NaN or Infinity literals.
            b.append(jsonString(String.valueOf(v.toJava())));
        } else {
            b.append(scalar(v));
        }
    }

    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
