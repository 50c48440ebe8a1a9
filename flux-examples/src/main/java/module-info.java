/**
 * The runnable programs: the {@code flux4j} command line ({@code generate}, {@code gguf-info},
 * {@code doctor}, {@code synthetic-gguf}, {@code synthetic-base}; {@link io.github.flux4j.examples.Main}),
 * the demo model and the benchmarks. An application, not a library: it exports nothing. It is
 * open because picocli reads and sets every command's fields reflectively and JMH instantiates its
 * generated benchmark classes ({@code io.github.flux4j.examples.bench.jmh_generated}) reflectively.
 */
@SuppressWarnings("requires-automatic") // jmh.core: JMH's jar has no module descriptor.
open module io.github.flux4j.examples {
    requires io.github.flux4j.pipeline;
    requires com.fasterxml.jackson.databind;
    requires info.picocli;
    requires me.tongfei.progressbar;
    requires jmh.core;
    requires org.bytedeco.cuda; // CUPTI, for the benchmarks' kernel counts (KernelTrace)
    requires static org.jspecify;
}
