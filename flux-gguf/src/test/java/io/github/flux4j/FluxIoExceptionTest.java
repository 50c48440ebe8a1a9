package io.github.flux4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FluxIoException}: the message names the file, the cause is the system's IOException. */
class FluxIoExceptionTest {
    @TempDir
    Path dir;

    @Test
    void namesTheFileOnce() {
        Path file = Path.of("/models/ae.safetensors");
        assertThat(FluxIoException.of(file, new NoSuchFileException(file.toString())))
                .hasMessage("/models/ae.safetensors: no such file")
                .hasCauseInstanceOf(NoSuchFileException.class);
        assertThat(FluxIoException.of(file, new IOException("Input/output error")))
                .hasMessage("/models/ae.safetensors: Input/output error");
        // A file inside the folder named: its own name is enough.
        Path folder = Path.of("/models/t5");
        assertThat(FluxIoException.of(folder, new AccessDeniedException("/models/t5/model.safetensors")))
                .hasMessage("/models/t5/model.safetensors: permission denied");
    }

    @Test
    void openingAMissingGgufFileIsAFluxIoExceptionWithTheSystemsCause() {
        Path missing = dir.resolve("missing.gguf");
        assertThatThrownBy(() -> GgufFile.open(missing))
                .isInstanceOf(FluxIoException.class)
                .hasMessage(missing + ": no such file")
                .hasCauseInstanceOf(NoSuchFileException.class);
    }

    @Test
    void writingIntoAMissingFolderIsAFluxIoException() {
        Path target = dir.resolve("no/such/folder/model.gguf");
        assertThatThrownBy(() -> GgufWriter.create().write(target))
                .isInstanceOf(FluxIoException.class)
                .hasMessageContaining(target.getParent().toString())
                .hasCauseInstanceOf(NoSuchFileException.class);
    }
}
