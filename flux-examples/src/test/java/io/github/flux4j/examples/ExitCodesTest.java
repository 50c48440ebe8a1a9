package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.FluxException;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.cuda.CudaException;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.weights.source.SafetensorsFormatException;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.gguf.GgufFormatException;
import io.github.flux4j.gguf.GgufMetadataException;
import io.github.flux4j.pipeline.FluxOutOfMemoryException;
import io.github.flux4j.pipeline.GenerationCancelledException;
import io.github.flux4j.pipeline.Offload;
import io.github.flux4j.pipeline.hub.HubException;
import io.github.flux4j.pipeline.model.ModelFolderException;
import io.github.flux4j.pipeline.scheduler.SchedulerConfigException;
import io.github.flux4j.tokenizers.TokenizerFormatException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@link FluxCli#exitCode}: the statuses the CLI documents, from flux4j's exception hierarchy. */
class ExitCodesTest {
    private static final Path FILE = Path.of("model.gguf");

    @Test
    void usageErrorsAre2() {
        assertThat(FluxCli.exitCode(new CommandLine.ParameterException(new CommandLine(new FluxCli()), "--width")))
                .isEqualTo(2);
    }

    @Test
    void badModelsAndFilesAre3() {
        for (Throwable e : new Throwable[] {
            new GgufFormatException(FILE, 8, "truncated"),
            new GgufMetadataException("general.architecture"),
            new SafetensorsFormatException(FILE, "header"),
            new WeightException("a tensor is missing"),
            new ModelFolderException("vae/ is missing"),
            new TokenizerFormatException(FILE, "invalid JSON"),
            new SchedulerConfigException("shift"),
            new HubException(HubException.Kind.NOT_CACHED, "not cached"),
            FluxIoException.of(new NoSuchFileException(FILE.toString())),
            new NoSuchFileException("x"),
            new AccessDeniedException("x")
        }) {
            assertThat(FluxCli.exitCode(e)).as(e.toString()).isEqualTo(3);
        }
    }

    @Test
    void outOfMemoryIs4() {
        FluxOutOfMemoryException.Request request = new FluxOutOfMemoryException.Request(
                1024, 1024, 1, 1, 28, 512, false, FluxDevice.cpu(), ComputeDtype.F32, Offload.NONE);
        assertThat(FluxCli.exitCode(new FluxOutOfMemoryException(
                        FluxOutOfMemoryException.Stage.DENOISING,
                        3,
                        request,
                        null,
                        new RuntimeException("can't allocate memory"))))
                .isEqualTo(4);
        assertThat(FluxCli.exitCode(new OutOfMemoryError("Java heap space"))).isEqualTo(4);
    }

    @Test
    void cancellationIs130() {
        assertThat(FluxCli.exitCode(new GenerationCancelledException("generation cancelled")))
                .isEqualTo(130);
        assertThat(FluxCli.exitCode(new CancellationException())).isEqualTo(130);
    }

    @Test
    void everythingElseIs1() {
        for (Throwable e : new Throwable[] {
            new CudaException("cuInit failed"),
            new FluxException("other"),
            new IllegalStateException("bug"),
            new IllegalArgumentException("bug")
        }) {
            assertThat(FluxCli.exitCode(e)).as(e.toString()).isEqualTo(1);
        }
        assertThat(FluxCli.exitCode(null)).isEqualTo(1);
    }
}
