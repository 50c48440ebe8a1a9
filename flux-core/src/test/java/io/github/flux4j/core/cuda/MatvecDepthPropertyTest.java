package io.github.flux4j.core.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code -Dflux4j.cuda.matvecDepth}: the default, valid values, and a clear error for bad ones (no GPU needed). */
class MatvecDepthPropertyTest {
    @AfterEach
    void clear() {
        System.clearProperty(CudaKernels.MATVEC_DEPTH_PROPERTY);
    }

    @Test
    void defaultsToTheDeepestRound() {
        System.clearProperty(CudaKernels.MATVEC_DEPTH_PROPERTY);
        assertThat(CudaKernels.matvecDepth()).isEqualTo(CudaKernels.MATVEC_MAX_DEPTH);
    }

    @Test
    void takesOneToTheMaximum() {
        for (int d = 1; d <= CudaKernels.MATVEC_MAX_DEPTH; d++) {
            System.setProperty(CudaKernels.MATVEC_DEPTH_PROPERTY, " " + d + " ");
            assertThat(CudaKernels.matvecDepth()).isEqualTo(d);
        }
    }

    @Test
    void refusesAnythingElseNamingTheProperty() {
        for (String bad : new String[] {"0", "5", "-1", "two", "1.5"}) {
            System.setProperty(CudaKernels.MATVEC_DEPTH_PROPERTY, bad);
            assertThatThrownBy(CudaKernels::matvecDepth)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("flux4j.cuda.matvecDepth")
                    .hasMessageContaining("'" + bad + "'");
        }
    }
}
