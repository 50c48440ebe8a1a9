package io.github.flux4j.core.torch;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * A {@link TensorTrace} that measures how long each stage of a forward took: the wall time from
 * the previous record (or from {@link #start()}) to this one. On CUDA it waits for the device
 * before reading the clock, since kernels run asynchronously (which makes the forward itself a
 * little slower). Not thread-safe; one forward at a time.
 *
 * <pre>{@code
 * StageTimings timings = new StageTimings();
 * timings.start();
 * Tensor image = vae.decode(latents, timings);
 * System.out.println(timings);   // post_quant_conv=3ms, decoder.conv_in=1ms, decoder.mid_block=120ms, ...
 * }</pre>
 */
public final class StageTimings implements TensorTrace {
    private final Map<String, Duration> stages = new LinkedHashMap<>();
    private long last = System.nanoTime();

    /** Timings starting now. */
    public StageTimings() {}

    /** Forgets the stages measured so far and restarts the clock (call it right before a forward). */
    public void start() {
        stages.clear();
        last = System.nanoTime();
    }

    @Override
    public void record(String name, Tensor value) {
        if (value.is_cuda()) {
            torch_cuda.device_synchronize();
        }
        long now = System.nanoTime();
        stages.merge(name, Duration.ofNanos(now - last), Duration::plus);
        last = now;
    }

    /** Each stage's time, in the order the stages ran (a name recorded twice: the sum). */
    public Map<String, Duration> durations() {
        return Collections.unmodifiableMap(stages);
    }

    /** The sum of the stages' times. */
    public Duration total() {
        return stages.values().stream().reduce(Duration.ZERO, Duration::plus);
    }

    /** {@code name=12ms, ...} in stage order. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Duration> e : stages.entrySet()) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(e.getKey()).append('=').append(e.getValue().toMillis()).append("ms");
        }
        return sb.toString();
    }
}
