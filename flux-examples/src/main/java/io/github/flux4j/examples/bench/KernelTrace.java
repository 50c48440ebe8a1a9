package io.github.flux4j.examples.bench;

import static org.bytedeco.cuda.global.cupti.CUPTI_ACTIVITY_FLAG_FLUSH_FORCED;
import static org.bytedeco.cuda.global.cupti.CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
import static org.bytedeco.cuda.global.cupti.CUPTI_API_VERSION;
import static org.bytedeco.cuda.global.cupti.CUPTI_SUCCESS;
import static org.bytedeco.cuda.global.cupti.cuptiActivityDisable;
import static org.bytedeco.cuda.global.cupti.cuptiActivityEnable;
import static org.bytedeco.cuda.global.cupti.cuptiActivityFlushAll;
import static org.bytedeco.cuda.global.cupti.cuptiActivityGetNextRecord;
import static org.bytedeco.cuda.global.cupti.cuptiActivityRegisterCallbacks;
import static org.bytedeco.cuda.global.cupti.cuptiGetVersion;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cupti.CUpti_ActivityKernel11;
import org.bytedeco.cuda.cupti.CUpti_BuffersCallbackCompleteFunc;
import org.bytedeco.cuda.cupti.CUpti_BuffersCallbackRequestFunc;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.jspecify.annotations.Nullable;

/**
 * Counts the GPU kernels of a piece of work with CUPTI's activity records (concurrent-kernel kind,
 * which does not serialise kernels): how many ran, the sum of their durations, the span from the
 * first start to the last end, and the kernels grouped by name. Used by {@link TransformerBenchmark}
 * ({@code --count-kernels}) after its timed forwards, so tracing never touches the timings.
 *
 * <p>One trace at a time per process: CUPTI's buffer callbacks are process-wide, so they are
 * registered once, as static objects that live as long as the process, and fill the trace that is
 * running. The first trace of a process runs its work twice and keeps the second: CUPTI sets itself
 * up while the first runs, which shows as a gap of 2-3 ms after its first kernel. The names are
 * CUPTI's (mangled for C++ kernels), shortened for the report.
 */
final class KernelTrace {
    /** One group of kernels with the same name. */
    record Group(String name, int count, double totalMs) {}

    /**
     * Where the GPU waited inside the traced span: the gaps between one kernel's end and the next
     * one's start (kernels in start order), in total, before the 100th kernel (a forward's prologue:
     * embedders and modulations, small kernels the host issues more slowly than the GPU runs them),
     * and the largest few with the index of the kernel that ended each. Only kernels are recorded,
     * so a copy or memset between two kernels counts as idle time.
     */
    record Idle(double totalMs, double first100Ms, List<String> largest) {}

    /** What one trace saw. */
    record Result(int kernels, double kernelMs, double spanMs, List<Group> groups, String names, Idle idle) {
        /** The result as JSON-ready values, with the {@code top} largest groups by total time. */
        Map<String, Object> toMap(int top) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kernels", kernels);
            m.put("kernel_ms", TransformerBenchmark.round(kernelMs, 2));
            m.put("span_ms", TransformerBenchmark.round(spanMs, 2));
            m.put("names", names);
            m.put("idle_ms", TransformerBenchmark.round(idle.totalMs(), 3));
            m.put("idle_first_100_kernels_ms", TransformerBenchmark.round(idle.first100Ms(), 3));
            m.put("largest_gaps", idle.largest());
            List<Map<String, Object>> g = new ArrayList<>();
            for (Group x : groups.subList(0, Math.min(top, groups.size()))) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", x.name());
                e.put("count", x.count());
                e.put("ms", TransformerBenchmark.round(x.totalMs(), 3));
                g.add(e);
            }
            m.put("top_kernels", g);
            return m;
        }
    }

    private static final long BUFFER_BYTES = 8L << 20;

    // raw malloc'd buffers: a JavaCPP allocation made in the callback would join the calling
    // thread's innermost PointerScope (the traced forward's) and be freed while CUPTI still fills it
    private final List<Pointer> buffers = new ArrayList<>();
    private final Map<String, double[]> byName = new LinkedHashMap<>();
    private final List<long[]> spans = new ArrayList<>(); // {start, end} ns of every kernel

    /** The CUPTI library's API version, read once. */
    private static final int RUNTIME_VERSION = runtimeVersion();

    // the record's start/end sit where every CUPTI version puts them; the name pointer is read only
    // where the library is the version these bindings were made for (the layout after it moves)
    private static final boolean NAMES_READABLE = RUNTIME_VERSION == CUPTI_API_VERSION;

    /** The trace the callbacks fill (null between traces: records then are dropped). */
    private static volatile @Nullable KernelTrace current;

    private static boolean registered; // guarded by KernelTrace.class
    private static boolean warmedUp; // guarded by KernelTrace.class

    /** Buffers handed out while no trace ran; freed by the next trace. */
    private static final ConcurrentLinkedQueue<Pointer> LEFTOVER = new ConcurrentLinkedQueue<>();

    // static: CUPTI keeps calling them after a trace ends (they must never be collected), and each
    // JavaCPP callback class has a handful of native slots only
    private static final CUpti_BuffersCallbackRequestFunc REQUEST = new CUpti_BuffersCallbackRequestFunc() {
        @Override
        public void call(PointerPointer buffer, SizeTPointer size, SizeTPointer maxNumRecords) {
            Pointer b = Pointer.malloc(BUFFER_BYTES); // malloc: aligned as CUPTI needs (8 bytes)
            KernelTrace t = current;
            if (!b.isNull()) {
                if (t != null) {
                    synchronized (t.buffers) {
                        t.buffers.add(b);
                    }
                } else {
                    LEFTOVER.add(b);
                }
            }
            buffer.put(0, b); // a null buffer tells CUPTI to drop records rather than fail
            size.put(b.isNull() ? 0L : BUFFER_BYTES);
            maxNumRecords.put(0L);
        }
    };

    private static final CUpti_BuffersCallbackCompleteFunc COMPLETE = new CUpti_BuffersCallbackCompleteFunc() {
        @Override
        public void call(CUctx_st ctx, int streamId, BytePointer buffer, long size, long validSize) {
            KernelTrace t = current;
            if (t == null) {
                return; // records after a trace: dropped (the buffer is freed with LEFTOVER or its trace)
            }
            synchronized (t.byName) {
                try (PointerScope scope = new PointerScope()) {
                    t.collect(buffer, validSize);
                }
            }
        }
    };

    private void collect(BytePointer buffer, long validSize) {
        PointerPointer<Pointer> record = new PointerPointer<>(1);
        record.put(0, (Pointer) null);
        while (cuptiActivityGetNextRecord(buffer, validSize, record) == CUPTI_SUCCESS) {
            CUpti_ActivityKernel11 k = new CUpti_ActivityKernel11(record.get(0));
            if (k.kind() != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
                continue;
            }
            long start = k.start();
            long end = k.end();
            spans.add(new long[] {start, end});
            String name = "?";
            if (NAMES_READABLE) {
                BytePointer n = k.name();
                name = n == null || n.isNull() ? "?" : shorten(n.getString());
            }
            double[] acc = byName.computeIfAbsent(name, x -> new double[2]);
            acc[0]++;
            acc[1] += end - start;
        }
    }

    /**
     * Runs {@code work} with kernel records on and returns what they say. {@code work} must end with
     * a device synchronisation, so that every kernel it launched has finished.
     *
     * @throws IllegalStateException where CUPTI refuses (no CUPTI library, another profiler attached)
     */
    static synchronized Result trace(Runnable work) {
        if (!registered) {
            check("cuptiActivityRegisterCallbacks", cuptiActivityRegisterCallbacks(REQUEST, COMPLETE));
            registered = true;
        }
        if (!warmedUp) {
            warmedUp = true;
            once(work); // CUPTI's own set-up shows in the first trace: dropped
        }
        return once(work);
    }

    private static Result once(Runnable work) {
        Pointer p;
        while ((p = LEFTOVER.poll()) != null) {
            Pointer.free(p);
        }
        KernelTrace t = new KernelTrace();
        current = t;
        try {
            check("cuptiActivityEnable", cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL));
            try {
                work.run();
            } finally {
                cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
                cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
                cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
            }
        } finally {
            current = null;
        }
        synchronized (t.byName) {
            List<Group> groups = new ArrayList<>();
            t.byName.forEach((name, acc) -> groups.add(new Group(name, (int) acc[0], acc[1] / 1e6)));
            groups.sort(Comparator.comparingDouble(Group::totalMs).reversed());
            long kernelNs = 0;
            long first = Long.MAX_VALUE;
            long last = Long.MIN_VALUE;
            for (long[] k : t.spans) {
                kernelNs += k[1] - k[0];
                first = Math.min(first, k[0]);
                last = Math.max(last, k[1]);
            }
            double span = t.spans.isEmpty() ? 0 : (last - first) / 1e6;
            String names = NAMES_READABLE
                    ? "read"
                    : "not read: CUPTI API " + RUNTIME_VERSION + " here, the bindings were made for "
                            + CUPTI_API_VERSION;
            Result r = new Result(t.spans.size(), kernelNs / 1e6, span, groups, names, t.idle());
            synchronized (t.buffers) {
                t.buffers.forEach(Pointer::free); // all flushed back: CUPTI holds none of them now
                t.buffers.clear();
            }
            return r;
        }
    }

    private Idle idle() {
        spans.sort(Comparator.comparingLong(x -> x[0]));
        double total = 0;
        double first = 0;
        List<double[]> gaps = new ArrayList<>(); // {ms, index of the kernel before the gap}
        long lastEnd = spans.isEmpty() ? 0 : spans.get(0)[1];
        for (int i = 1; i < spans.size(); i++) {
            long gap = spans.get(i)[0] - lastEnd;
            if (gap > 0) {
                double ms = gap / 1e6;
                total += ms;
                if (i < 100) {
                    first += ms;
                }
                gaps.add(new double[] {ms, i - 1});
            }
            lastEnd = Math.max(lastEnd, spans.get(i)[1]);
        }
        gaps.sort(Comparator.comparingDouble((double[] g) -> g[0]).reversed());
        List<String> largest = new ArrayList<>();
        for (double[] g : gaps.subList(0, Math.min(8, gaps.size()))) {
            largest.add(String.format(Locale.ROOT, "%.3f ms after kernel %d", g[0], (int) g[1]));
        }
        return new Idle(total, first, largest);
    }

    private static int runtimeVersion() {
        int[] v = new int[1];
        return cuptiGetVersion(v) == CUPTI_SUCCESS ? v[0] : -1;
    }

    private static void check(String call, int status) {
        if (status != CUPTI_SUCCESS) {
            throw new IllegalStateException(call + " failed with CUPTI status " + status);
        }
    }

    /** Mangled C++ names are long; the first 90 characters tell the kernels apart well enough. */
    private static String shorten(String name) {
        return name.length() <= 90 ? name : name.substring(0, 90) + "...";
    }
}
