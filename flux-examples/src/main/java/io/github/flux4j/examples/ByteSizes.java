package io.github.flux4j.examples;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Memory sizes as people type them: {@code 6G}, {@code 6GiB}, {@code 6 GB}, {@code 7.5g},
 * {@code 12000M}, {@code 512MiB}, {@code 1T}, or plain bytes. The units are binary
 * ({@code G} = GiB = 2^30 bytes), as {@code nvidia-smi} and PyTorch report memory.
 */
public final class ByteSizes {
    private static final Pattern SIZE =
            Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(?:i?b)?", Pattern.CASE_INSENSITIVE);

    private ByteSizes() {}

    /**
     * Parses a size.
     *
     * @throws IllegalArgumentException for anything else, or a size that is zero or over 2^63 bytes
     */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "'" + text + "' is not a size; examples: 6G, 6GiB, 7.5G, 12000M, 512MiB");
        }
        int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        BigDecimal bytes =
                new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(2).pow(shift));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        long out = bytes.longValue();
        if (out <= 0) {
            throw new IllegalArgumentException("'" + text + "' must be more than zero bytes");
        }
        return out;
    }

    /** picocli's converter for {@link #parse}. */
    public static final class Converter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
