package io.github.flux4j.core.doctor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class NumericVersionTest {
    @Test
    void comparesPartByPartWithMissingPartsAsZero() {
        assertThat(NumericVersion.parse("9.19.0.56").atLeast(NumericVersion.parse("9.19")))
                .isTrue();
        assertThat(NumericVersion.parse("9.10.2").atLeast(NumericVersion.parse("9.19")))
                .isFalse();
        assertThat(NumericVersion.parse("580.159.04").atLeast(CudaCheck.MIN_DRIVER))
                .isTrue();
        assertThat(NumericVersion.parse("575.57.08").atLeast(CudaCheck.MIN_DRIVER))
                .isFalse();
        assertThat(NumericVersion.parse("9.19"))
                .isEqualTo(NumericVersion.parse("9.19.0"))
                .hasSameHashCodeAs(NumericVersion.parse("9.19.0"));
        assertThat(NumericVersion.parse("580.159.04").parts()).containsExactly(580, 159, 4);
    }

    @Test
    void rejectsWhatIsNotADottedNumber() {
        assertThatThrownBy(() -> NumericVersion.parse("9.x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'9.x'");
        assertThatThrownBy(() -> NumericVersion.parse("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new NumericVersion(List.of())).isInstanceOf(IllegalArgumentException.class);
    }
}
