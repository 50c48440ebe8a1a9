package io.github.flux4j.core.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.IntSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code -Dflux4j.cuda.matvecDepth} and {@code -Dflux4j.cuda.dequantTiles}: their defaults, the
 * values they take, and a clear error naming the property for anything else (no GPU needed).
 */
class KernelTuningPropertiesTest {
    @AfterEach
    void clear() {
        System.clearProperty(CudaKernels.MATVEC_DEPTH_PROPERTY);
        System.clearProperty(CudaKernels.DEQUANT_TILES_PROPERTY);
    }

    @Test
    void matvecDepth() {
        check(
                CudaKernels.MATVEC_DEPTH_PROPERTY,
                CudaKernels.MATVEC_DEFAULT_DEPTH,
                CudaKernels.MATVEC_MAX_DEPTH,
                CudaKernels::matvecDepth);
    }

    @Test
    void dequantTiles() {
        check(
                CudaKernels.DEQUANT_TILES_PROPERTY,
                CudaKernels.DEQUANT_MAX_TILES,
                CudaKernels.DEQUANT_MAX_TILES,
                CudaKernels::dequantTiles);
    }

    private static void check(String property, int unset, int max, IntSupplier read) {
        System.clearProperty(property);
        assertThat(read.getAsInt()).as("default").isEqualTo(unset);
        for (int d = 1; d <= max; d++) {
            System.setProperty(property, " " + d + " ");
            assertThat(read.getAsInt()).isEqualTo(d);
        }
        for (String bad : new String[] {"0", String.valueOf(max + 1), "-1", "two", "1.5"}) {
            System.setProperty(property, bad);
            assertThatThrownBy(read::getAsInt)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(property)
                    .hasMessageContaining("'" + bad + "'");
        }
    }
}
