package io.github.flux4j.core.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.flux4j.core.testing.TinyFluxFiles.Tensor;
import io.github.flux4j.core.testing.TinyFluxFiles.Variant;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The Java twin of tools/reference/tiny_flux.py regenerates every tensor, every GGUF file and the
 * test-time safetensors byte for byte as recorded in reference/flux/manifest.tsv.
 */
class TinyFluxFilesTest {

    record FileLine(
            String file,
            String flavor,
            String qtype,
            String embed,
            String prefix,
            String arch,
            String seed,
            int tensors,
            long size,
            String sha256) {}

    record TensorLine(String name, String type, String shape, long bytes, String sha256, String gen) {}

    static final Map<String, FileLine> FILES = new LinkedHashMap<>();
    static final Map<String, List<TensorLine>> TENSORS = new LinkedHashMap<>();
    static final Map<String, List<String[]>> KVS = new LinkedHashMap<>();
    static final Map<String, String[]> AUX = new LinkedHashMap<>();

    @BeforeAll
    static void readManifest() throws IOException {
        String res = TinyFluxFiles.RESOURCE_DIR + "manifest.tsv";
        try (InputStream in = Objects.requireNonNull(TinyFluxFilesTest.class.getResourceAsStream(res), res);
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split("\t", -1);
                switch (f[0]) {
                    case "file" ->
                        FILES.put(
                                f[1],
                                new FileLine(
                                        f[1],
                                        f[2],
                                        f[3],
                                        f[4],
                                        f[5],
                                        f[6],
                                        f[7],
                                        Integer.parseInt(f[8]),
                                        Long.parseLong(f[9]),
                                        f[10]));
                    case "kv" ->
                        KVS.computeIfAbsent(f[1], k -> new ArrayList<>()).add(Arrays.copyOfRange(f, 2, f.length));
                    case "tensor" ->
                        TENSORS.computeIfAbsent(f[1], k -> new ArrayList<>())
                                .add(new TensorLine(f[2], f[3], f[4], Long.parseLong(f[5]), f[6], f[7]));
                    case "aux" -> AUX.put(f[1], Arrays.copyOfRange(f, 2, f.length));
                    default -> throw new IllegalStateException("bad manifest line: " + line);
                }
            }
        }
    }

    @Test
    void variantsAreTheManifestsFiles() {
        assertThat(Arrays.stream(Variant.values()).map(Variant::fileName).toList())
                .containsExactlyElementsOf(FILES.keySet());
        for (Variant v : Variant.values()) {
            FileLine f = FILES.get(v.fileName());
            assertThat(f.flavor()).isEqualTo(v.guidance() ? "dev" : "schnell");
            assertThat(f.qtype()).isEqualTo(v.matrixType().name());
            assertThat(f.embed()).isEqualTo(v.embedderType().name());
            assertThat(f.prefix()).isEqualTo(v.prefix().isEmpty() ? "-" : v.prefix());
            assertThat(f.arch()).isEqualTo(v.hasArchitecture() ? "flux" : "-");
            assertThat(Long.parseUnsignedLong(f.seed().substring(2), 16)).isEqualTo(TinyFluxFiles.GLOBAL_SEED);
            List<String> kv = KVS.getOrDefault(v.fileName(), List.of()).stream()
                    .map(a -> String.join("=", a))
                    .toList();
            assertThat(kv)
                    .containsExactlyElementsOf(
                            v.hasArchitecture()
                                    ? List.of(
                                            "general.architecture=STRING=flux",
                                            "general.quantization_version=UINT32=2",
                                            "general.file_type=UINT32=" + v.fileType())
                                    : List.of());
        }
    }

    @Test
    void splitmix64AndFnvMatchTheirDefinitions() {
        // FNV-1a 64 test vectors (empty string, "a") and splitmix64 seeded 0 (Vigna's reference).
        assertThat(TinyFluxFiles.fnv1a64("")).isEqualTo(0xCBF29CE484222325L);
        assertThat(TinyFluxFiles.fnv1a64("a")).isEqualTo(0xAF63DC4C8601EC8CL);
        assertThat(TinyFluxFiles.splitmix64(0, 0)).isEqualTo(0xE220A8397B1DCDAFL);
        assertThat(TinyFluxFiles.splitmix64(0, 1)).isEqualTo(0x6E789E6AA1B965F4L);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void tensorsMatchTheManifest(Variant v) {
        List<TensorLine> expected = TENSORS.get(v.fileName());
        List<Tensor> tensors = TinyFluxFiles.tensors(v);
        assertThat(tensors)
                .hasSize(expected.size())
                .hasSize(FILES.get(v.fileName()).tensors());
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            TensorLine e = expected.get(i);
            String shape = Arrays.stream(t.shape()).mapToObj(Long::toString).collect(Collectors.joining(","));
            assertThat(t.name() + " " + t.type() + " " + shape + " " + t.data().length)
                    .isEqualTo(e.name() + " " + e.type() + " " + e.shape() + " " + e.bytes());
            assertThat(sha256(t.data())).as(t.name()).isEqualTo(e.sha256());
            if (e.gen().startsWith("float")) {
                String expect = "float scale=" + Double.toHexString(TinyFluxFiles.floatScale(t.canonical(), t.shape()))
                        + " offset=" + Double.toHexString(TinyFluxFiles.floatOffset(t.canonical(), t.shape()));
                assertThat(normalizeHex(e.gen())).as(t.name()).isEqualTo(normalizeHex(expect));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void ggufFilesAreByteIdenticalToGgufPy(Variant v, @TempDir Path dir) throws IOException {
        Path p = TinyFluxFiles.write(v, dir);
        FileLine f = FILES.get(v.fileName());
        assertThat(Files.size(p)).isEqualTo(f.size());
        assertThat(sha256(Files.readAllBytes(p))).isEqualTo(f.sha256());
    }

    @Test
    void testTimeSafetensorsAreByteIdentical(@TempDir Path dir) throws IOException {
        TinyFluxFiles.writeBflSafetensors(dir);
        TinyFluxFiles.writeDiffusersFolder(dir);
        assertThat(AUX).isNotEmpty();
        for (Map.Entry<String, String[]> en : AUX.entrySet()) {
            Path p = dir.resolve(en.getKey());
            assertThat(p).as(en.getKey()).exists();
            assertThat(Files.size(p)).as(en.getKey()).isEqualTo(Long.parseLong(en.getValue()[0]));
            assertThat(sha256(Files.readAllBytes(p))).as(en.getKey()).isEqualTo(en.getValue()[1]);
        }
    }

    /** Python's float.hex() writes 0x1.0000000000000p-4, Java 0x1.0p-4: compare values. */
    private static String normalizeHex(String gen) {
        StringBuilder out = new StringBuilder();
        for (String part : gen.split(" ")) {
            int eq = part.indexOf('=');
            if (eq > 0 && part.substring(eq + 1).contains("0x")) {
                out.append(part, 0, eq + 1).append(Double.parseDouble(part.substring(eq + 1)));
            } else {
                out.append(part);
            }
            out.append(' ');
        }
        return out.toString().trim();
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
