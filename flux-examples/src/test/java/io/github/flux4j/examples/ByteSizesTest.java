package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ByteSizesTest {
    @Test
    void parsesBinaryUnits() {
        assertThat(ByteSizes.parse("6G")).isEqualTo(6L << 30);
        assertThat(ByteSizes.parse("6GiB")).isEqualTo(6L << 30);
        assertThat(ByteSizes.parse(" 6 gb ")).isEqualTo(6L << 30);
        assertThat(ByteSizes.parse("7.5g")).isEqualTo(15L << 29);
        assertThat(ByteSizes.parse("12000M")).isEqualTo(12000L << 20);
        assertThat(ByteSizes.parse("512MiB")).isEqualTo(512L << 20);
        assertThat(ByteSizes.parse("1T")).isEqualTo(1L << 40);
        assertThat(ByteSizes.parse("4096")).isEqualTo(4096);
        assertThat(ByteSizes.parse("2k")).isEqualTo(2048);
    }

    @Test
    void rejectsTheRest() {
        assertThatThrownBy(() -> ByteSizes.parse("six gigs")).hasMessageContaining("'six gigs' is not a size");
        assertThatThrownBy(() -> ByteSizes.parse("-1G")).hasMessageContaining("is not a size");
        assertThatThrownBy(() -> ByteSizes.parse("0")).hasMessageContaining("more than zero");
        assertThatThrownBy(() -> ByteSizes.parse("0.1")).hasMessageContaining("more than zero");
        assertThatThrownBy(() -> ByteSizes.parse("99999999T")).hasMessageContaining("too large");
    }
}
