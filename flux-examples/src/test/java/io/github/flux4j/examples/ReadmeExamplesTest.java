package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.torch.*;
import io.github.flux4j.core.transformer.*;
import io.github.flux4j.core.weights.LoadOptions;
import io.github.flux4j.gguf.*;
import io.github.flux4j.gguf.quant.Dequantizer;
import io.github.flux4j.pipeline.*;
import io.github.flux4j.pipeline.hub.HubFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The Java examples of the top-level README.md, compiled: each {@code java} block of the README
 * is held below between {@code readme:begin} and {@code readme:end} markers, and
 * {@link #readmeHoldsExactlyTheseExamples()} checks that the README shows exactly this code (less
 * its import lines, which must appear among this file's imports), so an example that no longer
 * compiles fails the build. The examples need the real FLUX.1 files, so they are compiled, not run.
 * Their methods declare no checked exception: flux4j's I/O failures are unchecked
 * ({@code FluxIoException}, docs/errors.md).
 */
class ReadmeExamplesTest {
    private static final Path README = Path.of("../README.md");
    private static final Path SOURCE = Path.of("src/test/java/io/github/flux4j/examples/ReadmeExamplesTest.java");

    @SuppressWarnings("unused")
    static void textToImage() {
        // spotless:off (the README shows this code as written)
        // readme:begin
        try (FluxPipeline flux = FluxPipeline.builder()
                .transformer(Path.of("flux1-dev-Q8_0.gguf"))                // GGUF, BFL safetensors or diffusers folder
                .baseModel("black-forest-labs/FLUX.1-dev")                  // a folder, or a Hugging Face repo id
                .downloads(HubFiles.fromEnvironment())                      // fetch what the HF cache lacks (optional)
                .device(FluxDevice.cuda(0))
                .computeDtype(ComputeDtype.BF16)
                .offload(Offload.MODEL)                                     // each model on the GPU only while it runs
                .t5Gguf(Path.of("t5-v1_1-xxl-encoder-Q8_0.gguf"))           // optional: T5 kept quantized
                .build()) {
            GenerationResult r = flux.generate("a lighthouse at dusk",
                    GenerationOptions.builder().size(1024, 1024).steps(28).guidanceScale(3.5).seed(42)
                            .progressListener(p -> System.out.printf("step %d/%d%n", p.completed(), p.totalSteps()))
                            .build());
            r.save(0, Path.of("lighthouse.png"));                           // PNG or JPEG, written atomically
            System.out.println(r.timings());
        }
        // readme:end
        // spotless:on
    }

    @SuppressWarnings("unused")
    static void readGguf() {
        // spotless:off (the README shows this code as written)
        // readme:begin
        try (GgufFile gguf = GgufFile.open(Path.of("flux1-dev-Q8_0.gguf"))) {
            String arch = gguf.metadata().findString("general.architecture").orElse("(none)");
            TensorInfo qkv = gguf.tensor("double_blocks.0.img_attn.qkv.weight");   // shape [9216, 3072], Q8_0
            ByteBuffer blocks = gguf.tensorData(qkv);                              // mapped, no copy
            float[] weights = Dequantizer.dequantize(qkv.type(), blocks, qkv.name(), qkv.elementCount());
        }
        // readme:end
        // spotless:on
    }

    static void writeGguf(float[] floats, float[] qkv) {
        // spotless:off (the README shows this code as written)
        // readme:begin
        GgufWriter.create()
                .put("general.architecture", GgufValue.of("flux"))
                .addTensor("img_in.weight", floats, new long[] {3072, 64}, GgmlType.BF16)
                .addTensor("double_blocks.0.img_attn.qkv.weight", qkv, new long[] {9216, 3072}, GgmlType.Q4_K)
                .write(Path.of("out.gguf"));   // written to a temp file, moved into place only on success
        // readme:end
        // spotless:on
    }

    @SuppressWarnings("unused")
    static void transformerForward(float[] noise, float[] t5States, float[] clipPooled) {
        // spotless:off (the README shows this code as written)
        // readme:begin
        LoadOptions options = LoadOptions.defaults()                        // CPU, BF16, strict binding
                .withDevice(FluxDevice.parse("cuda:0"))
                .withDtype(ComputeDtype.BF16);
        try (FluxTransformer flux = GgufTransformer.load(Path.of("flux1-dev-Q8_0.gguf"), options);
             PointerScope scope = new PointerScope()) {                     // frees every tensor made below
            // A 1024x1024 image is 64x64 tokens of 2x2 latent pixels; row-major Java arrays in, copied:
            // noise [S*64], t5States [512*4096] and clipPooled [768] are float[]s of your own.
            int rows = 64, cols = 64, tokens = rows * cols;
            float[] positions = new float[tokens * 3];                      // (0, row, col) per image token
            for (int t = 0; t < tokens; t++) {
                positions[3 * t + 1] = t / cols;
                positions[3 * t + 2] = t % cols;
            }
            Tensor img = Tensors.fromFloats(noise, 1, tokens, 64);          // packed latents [B, S, 64]
            Tensor imgIds = Tensors.fromFloats(positions, tokens, 3);       // [S, 3]
            Tensor txt = Tensors.fromFloats(t5States, 1, 512, 4096);        // T5 states [B, 512, 4096]
            Tensor txtIds = Tensors.fromFloats(new float[512 * 3], 512, 3); // text ids [512, 3]: zeros
            Tensor timestep = Tensors.fromFloats(new float[] {1f}, 1);      // [B]: sigma, as diffusers passes it
            Tensor pooled = Tensors.fromFloats(clipPooled, 1, 768);         // pooled CLIP [B, 768]
            Tensor guidance = Tensors.fromFloats(new float[] {3.5f}, 1);    // [B], dev only (null for schnell)
            Tensor velocity = flux.forward(img, imgIds, txt, txtIds, timestep, pooled, guidance);
            float[] v = Tensors.toFloats(velocity);                         // [1, S, 64] back in Java, row-major
        }
        // readme:end
        // spotless:on
    }

    @Test
    void readmeHoldsExactlyTheseExamples() throws IOException {
        String readme = Files.readString(README, StandardCharsets.UTF_8);
        String source = Files.readString(SOURCE, StandardCharsets.UTF_8);
        List<String> shown = new ArrayList<>();
        Matcher blocks = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        while (blocks.find()) {
            List<String> code = new ArrayList<>();
            for (String line : blocks.group(1).split("\n", -1)) {
                if (line.startsWith("import ")) {
                    assertThat(source)
                            .as("README import, in this test's imports")
                            .contains("\n" + line + "\n");
                } else {
                    code.add(line);
                }
            }
            shown.add(dedent(code));
        }
        List<String> held = new ArrayList<>();
        Matcher regions = Pattern.compile("// readme:begin\\n(.*?)\\n[ ]*// readme:end", Pattern.DOTALL)
                .matcher(source);
        while (regions.find()) {
            held.add(dedent(List.of(regions.group(1).split("\n", -1))));
        }
        assertThat(shown).as("README.md java blocks").hasSize(4).containsExactlyElementsOf(held);
    }

    /** The lines without leading and trailing blank lines and without their common indentation. */
    private static String dedent(List<String> lines) {
        int from = 0;
        int to = lines.size();
        while (from < to && lines.get(from).isBlank()) {
            from++;
        }
        while (to > from && lines.get(to - 1).isBlank()) {
            to--;
        }
        int indent = Integer.MAX_VALUE;
        for (String l : lines.subList(from, to)) {
            if (!l.isBlank()) {
                indent = Math.min(indent, l.length() - l.stripLeading().length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String l : lines.subList(from, to)) {
            sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        return sb.toString();
    }
}
