package io.github.flux4j.core.weights;

import io.github.flux4j.core.clip.ClipNames;
import io.github.flux4j.core.clip.ClipTextConfig;
import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.t5.T5Config;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.t5.T5Names;
import io.github.flux4j.core.testing.ConfigFuzz;
import io.github.flux4j.core.testing.TinyFluxFiles;
import io.github.flux4j.core.transformer.FluxConfig;
import io.github.flux4j.core.transformer.FluxTransformer;
import io.github.flux4j.core.vae.VaeConfig;
import io.github.flux4j.core.vae.VaeDecoder;
import io.github.flux4j.core.weights.source.TransformersWeightSource;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutates the real {@code config.json} of each model folder (CLIP and T5 text encoders, VAE,
 * diffusers transformer) and loads it as users do: it either loads or fails with a
 * {@link WeightException} naming the folder; never another exception, an error, an allocation
 * sized by a corrupt number, or a hang. The model is built (weights bound) whenever the mutant's
 * configuration differs from the seed's; mutants that leave it unchanged (an unused key edited)
 * stop after reading it, which keeps the run short.
 */
class ConfigJsonFuzzTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void clipTextEncoderConfig() throws IOException {
        Path folder = ConfigFuzz.linkedCopy(ConfigFuzz.resourceFolder("/reference/text/clip"), dir, "clip");
        ClipTextConfig seed = ClipTextConfig.read(ConfigFuzz.resourceFolder("/reference/text/clip/config.json"));
        ConfigFuzz.run("/reference/text/clip/config.json", folder, 0xC11BL, f -> {
            ClipTextConfig c;
            try (WeightSource s = TransformersWeightSource.open(f)) {
                c = ClipTextConfig.inferFrom(ClipNames.textModelView(s));
            }
            if (!c.equals(seed)) {
                try (PointerScope scope = new PointerScope();
                        ClipTextModel m = ClipTextModel.load(f, LoadOptions.defaults())) {
                    m.config();
                }
            }
        });
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void t5EncoderConfig() throws IOException {
        Path folder = ConfigFuzz.linkedCopy(ConfigFuzz.resourceFolder("/reference/text/t5"), dir, "t5");
        T5Config seed = T5Config.read(ConfigFuzz.resourceFolder("/reference/text/t5/config.json"));
        ConfigFuzz.run("/reference/text/t5/config.json", folder, 0x75L, f -> {
            T5Config c;
            try (WeightSource s = TransformersWeightSource.open(f)) {
                c = T5Config.inferFrom(T5Names.encoderView(s));
            }
            if (!c.equals(seed)) {
                try (PointerScope scope = new PointerScope();
                        T5EncoderModel m = T5EncoderModel.load(f, LoadOptions.defaults())) {
                    m.config();
                }
            }
        });
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shardIndex() throws IOException {
        Path folder = ConfigFuzz.linkedCopy(
                ConfigFuzz.resourceFolder("/reference/text/t5"), dir, "t5-index", TransformersWeightSource.INDEX);
        ConfigFuzz.run(
                "/reference/text/t5/" + TransformersWeightSource.INDEX,
                folder,
                TransformersWeightSource.INDEX,
                0x1D5L,
                ConfigFuzz.MUTANTS,
                f -> {
                    try (WeightSource s = TransformersWeightSource.open(f)) {
                        for (WeightInfo t : s.tensors()) {
                            if (s.read(t).remaining() != t.byteSize()) {
                                throw new AssertionError(t.name());
                            }
                        }
                    }
                });
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void vaeConfig() throws IOException {
        Path folder = ConfigFuzz.linkedCopy(ConfigFuzz.resourceFolder("/reference/vae/tiny-vae"), dir, "vae");
        Path seedFile = ConfigFuzz.resourceFolder("/reference/vae/tiny-vae/config.json");
        VaeConfig seed = VaeConfig.read(seedFile);
        ConfigFuzz.run("/reference/vae/tiny-vae/config.json", folder, 0x7AEL, f -> {
            Path file = f.resolve("config.json");
            // The loader binds the same keys (VaeConfig.fromJson) from the map TableWeightSource parsed.
            VaeConfig c = VaeConfig.read(file);
            if (!c.equals(seed)) {
                try (PointerScope scope = new PointerScope();
                        VaeDecoder m = VaeDecoder.load(f, LoadOptions.defaults())) {
                    m.config();
                }
            }
        });
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void diffusersTransformerConfig() throws IOException {
        Path folder = TinyFluxFiles.writeDiffusersFolder(Files.createDirectories(dir.resolve("transformer")));
        FluxConfig seed;
        try (WeightSource s = WeightSource.open(folder)) {
            seed = FluxConfig.inferFrom(s);
        }
        ConfigFuzz.run(
                TinyFluxFiles.RESOURCE_DIR + "config/dev/config.json",
                folder,
                0xF1L,
                // Opening a diffusers transformer folder renames and fuses its tensors: slower cases.
                Math.min(ConfigFuzz.MUTANTS, 200),
                f -> {
                    FluxConfig c;
                    try (WeightSource s = WeightSource.open(f)) {
                        c = FluxConfig.inferFrom(s);
                    }
                    if (!c.equals(seed)) {
                        try (PointerScope scope = new PointerScope();
                                FluxTransformer m = FluxTransformer.load(f, LoadOptions.defaults())) {
                            m.config();
                        }
                    }
                });
    }
}
