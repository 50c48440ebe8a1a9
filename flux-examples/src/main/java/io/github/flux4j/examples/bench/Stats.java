package io.github.flux4j.examples.bench;

import java.util.Arrays;

/** Order statistics of a sample of times (nearest-rank percentiles). */
record Stats(int n, double median, double p90, double min, double max, double mean) {
    static Stats of(double[] samples) {
        if (samples.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        double[] s = samples.clone();
        Arrays.sort(s);
        int n = s.length;
        double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        double p90 = s[Math.max(0, (int) Math.ceil(0.9 * n) - 1)];
        return new Stats(
                n, median, p90, s[0], s[n - 1], Arrays.stream(s).average().orElse(Double.NaN));
    }
}
