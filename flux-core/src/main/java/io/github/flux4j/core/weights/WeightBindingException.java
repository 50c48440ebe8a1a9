package io.github.flux4j.core.weights;

import io.github.flux4j.core.weights.source.WeightException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Weights that do not fit the model being built. Lists every problem at once (not just the
 * first): tensors the model needs that the source lacks, tensors of the wrong shape or of a type
 * that cannot be loaded, and (in strict mode) tensors the model did not use.
 */
public final class WeightBindingException extends WeightException {
    private static final long serialVersionUID = 1L;
    /** Problems listed in the message per kind; the rest are counted. */
    static final int MAX_LISTED = 40;

    /** What is wrong with one tensor. */
    public enum Kind {
        /** The model needs it; the source does not have it. */
        MISSING,
        /** The source has it with another shape. */
        SHAPE,
        /** Its type cannot be loaded (a safetensors dtype other than F32/F16/BF16, an unsupported GGML type). */
        TYPE,
        /** The source has it; the model did not use it (strict mode). */
        UNEXPECTED
    }

    /**
     * One problem.
     *
     * @param kind   what is wrong
     * @param name   the full tensor name (BFL naming)
     * @param detail the specifics: expected and actual shape, the type, where it came from
     */
    public record Problem(Kind kind, String name, String detail) {
        public Problem {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(detail, "detail");
        }

        @Override
        public String toString() {
            return name + ": " + detail;
        }
    }

    private final transient List<Problem> problems;

    public WeightBindingException(Path source, String what, List<Problem> problems) {
        super(message(source, what, problems));
        this.problems = List.copyOf(problems);
    }

    /** Every problem found, in binding order (unexpected tensors last, in source order). */
    public List<Problem> problems() {
        return problems;
    }

    /** The problems of one kind. */
    public List<Problem> problems(Kind kind) {
        return problems.stream().filter(p -> p.kind() == kind).toList();
    }

    private static String message(Path source, String what, List<Problem> problems) {
        StringBuilder sb = new StringBuilder();
        sb.append(source)
                .append(" does not fit ")
                .append(what)
                .append(": ")
                .append(problems.size())
                .append(problems.size() == 1 ? " problem" : " problems");
        for (Kind kind : Kind.values()) {
            List<Problem> of = problems.stream().filter(p -> p.kind() == kind).toList();
            if (of.isEmpty()) {
                continue;
            }
            sb.append("\n  ").append(of.size()).append(' ').append(label(kind)).append(':');
            for (int i = 0; i < Math.min(of.size(), MAX_LISTED); i++) {
                sb.append("\n    ").append(of.get(i));
            }
            if (of.size() > MAX_LISTED) {
                sb.append("\n    ... and ").append(of.size() - MAX_LISTED).append(" more");
            }
        }
        return sb.toString();
    }

    private static String label(Kind kind) {
        return switch (kind) {
            case MISSING -> "missing";
            case SHAPE -> "with the wrong shape";
            case TYPE -> "of a type that cannot be loaded";
            case UNEXPECTED -> "unexpected (not used by the model)";
        };
    }
}
