package io.github.flux4j.pipeline;

import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.pipeline.testing.RefData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Reference arrays (pipeline_refs.py's safetensors) and what a {@link PipelineTrace} recorded, as Java arrays. */
final class Refs {
    /** A tensor's values (float32, exact for ids below 2^24 and for uint8) and shape. */
    record Values(float[] data, long[] shape) {
        int size() {
            return data.length;
        }
    }

    private Refs() {}

    /** Every tensor of a reference file, as float values. */
    static Map<String, Values> read(Path file) {
        Map<String, Values> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (WeightInfo e : f.tensors()) {
                ByteBuffer b = f.data(e).order(ByteOrder.LITTLE_ENDIAN);
                float[] v = new float[Math.toIntExact(e.elementCount())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = switch (f.dtype(e)) {
                        case F32 -> b.getFloat();
                        case BF16 -> Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
                        case I64 -> (float) b.getLong();
                        case U8 -> b.get() & 0xFF;
                        default -> throw new IllegalArgumentException(e.name() + ": dtype " + f.dtype(e));
                    };
                }
                out.put(e.name(), new Values(v, e.shape()));
            }
        }
        return out;
    }

    /** A trace that keeps a float32 CPU copy of everything. */
    static final class Recorder implements PipelineTrace {
        final Map<String, Values> values = new HashMap<>();

        @Override
        @SuppressWarnings("try") // the scope frees the CPU copy
        public void record(String name, Tensor tensor) {
            try (PointerScope scope = new PointerScope()) {
                Tensor c = tensor.to(new Device(DeviceType.CPU), ScalarType.Float);
                values.put(name, new Values(RefData.floats(c), RefData.shape(tensor)));
            }
        }

        Values get(String name) {
            Values v = values.get(name);
            if (v == null) {
                throw new AssertionError("nothing recorded as " + name + "; have " + values.keySet());
            }
            return v;
        }
    }

    /** ||a - b|| / ||b||. */
    static double relativeError(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            num += d * d;
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    /** The largest |a - b|. */
    static double maxAbs(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }

    /**
     * PSNR in dB of two decoded images in [-1, 1] (the VAE's output), each mapped to [0, 1] and
     * clamped as VaeImageProcessor does: 10 log10(1 / MSE). Infinite when equal.
     */
    static double psnrDecoded(float[] ours, float[] ref) {
        double se = 0;
        for (int i = 0; i < ours.length; i++) {
            double a = Math.min(1, Math.max(0, ours[i] * 0.5 + 0.5));
            double b = Math.min(1, Math.max(0, ref[i] * 0.5 + 0.5));
            se += (a - b) * (a - b);
        }
        double mse = se / ours.length;
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(1 / mse);
    }

    /** PSNR in dB of two 8-bit images: 10 log10(255^2 / MSE). Infinite when equal. */
    static double psnr8(byte[] ours, float[] ref) {
        double se = 0;
        for (int i = 0; i < ours.length; i++) {
            double d = (ours[i] & 0xFF) - ref[i];
            se += d * d;
        }
        double mse = se / ours.length;
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
    }
}
