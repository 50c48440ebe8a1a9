package io.github.flux4j.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Checks {@link GgufWriter} against gguf-py through committed reference files.
 *
 * <p>{@code reference/writer/ours.gguf} and {@code ours-edge.gguf} were written by this writer
 * from {@link WriterReference}; {@code tools/reference/gguf_writer_check.py} read them with
 * gguf-py's {@code GGUFReader} and wrote what it saw to {@code *.manifest.txt}, and rewrote the
 * same content with gguf-py's {@code GGUFWriter}, recording whether that gives the same bytes.
 * These tests regenerate the files with the current writer and require them to be byte-identical
 * to the committed ones (so gguf-py's verdict still applies), compare each manifest with what
 * {@link GgufFile} reads, and require gguf-py's writer to have produced exactly our bytes for
 * {@code ours.gguf}.
 *
 * <p>To regenerate after an intended change of the writer or of {@link WriterReference}, from the
 * repository root:
 * <pre>
 * mvn -q -f flux-gguf/pom.xml test -Dtest=GgufWriterReferenceTest -Dflux4j.regenerateReference=true
 * /tmp/ref/bin/python tools/reference/gguf_writer_check.py
 * </pre>
 */
class GgufWriterReferenceTest {
    private static final String REGENERATE = "flux4j.regenerateReference";
    private static final String RESOURCES = "/reference/writer/";
    /** Relative to the module directory, where surefire runs. */
    private static final Path SOURCE_DIR = Path.of("src/test/resources/reference/writer");

    @TempDir
    Path dir;

    @Test
    @EnabledIfSystemProperty(named = REGENERATE, matches = "true")
    void regenerate() throws IOException {
        Files.createDirectories(SOURCE_DIR);
        WriterReference.main().write(SOURCE_DIR.resolve("ours.gguf"));
        WriterReference.edge().write(SOURCE_DIR.resolve("ours-edge.gguf"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"ours.gguf", "ours-edge.gguf"})
    void currentWriterReproducesTheCommittedFile(String name) throws IOException {
        assumeFalse(Boolean.getBoolean(REGENERATE));
        assertThat(write(name)).as("regenerated " + name).isEqualTo(resource(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"ours.gguf", "ours-edge.gguf"})
    void ggufPyReaderSeesWhatOurReaderSees(String name) throws IOException {
        assumeFalse(Boolean.getBoolean(REGENERATE));
        byte[] ours = write(name);
        Path file = dir.resolve(name);
        Manifest m = Manifest.parse(new String(resource(name + ".manifest.txt"), StandardCharsets.US_ASCII));

        assertThat(m.header.get("file")).isEqualTo(name);
        assertThat(m.header.get("sha256")).as("gguf-py read these bytes").isEqualTo(sha256(ours));
        try (GgufFile g = GgufFile.open(file)) {
            assertThat(m.header.get("version")).isEqualTo(String.valueOf(g.version()));
            assertThat(m.header.get("alignment")).isEqualTo(String.valueOf(g.alignment()));
            assertThat(m.header.get("data_offset")).isEqualTo(String.valueOf(g.dataOffset()));
            assertThat(m.header.get("kv_count"))
                    .isEqualTo(String.valueOf(g.metadata().size()));
            assertThat(m.header.get("tensor_count"))
                    .isEqualTo(String.valueOf(g.tensors().size()));
            assertThat(m.kv).containsExactlyEntriesOf(g.metadata().asMap());

            assertThat(m.tensors).hasSize(g.tensors().size());
            for (int i = 0; i < m.tensors.size(); i++) {
                ManifestTensor mt = m.tensors.get(i);
                TensorInfo t = g.tensors().get(i);
                assertThat(t.storedName()).isEqualTo(mt.name);
                assertThat(t.type().name()).as(mt.name).isEqualTo(mt.type);
                long[] dims = t.shape();
                for (int d = 0; d < dims.length; d++) {
                    assertThat(dims[d]).as(mt.name + " dim " + d).isEqualTo(mt.ggmlDims[dims.length - 1 - d]);
                }
                assertThat(dims).hasSameSizeAs(mt.ggmlDims);
                assertThat(t.offset()).as(mt.name).isEqualTo(mt.offset);
                assertThat(t.byteSize()).as(mt.name).isEqualTo(mt.bytes);
                ByteBuffer data = g.tensorData(t);
                byte[] bytes = new byte[data.remaining()];
                data.get(bytes);
                assertThat(sha256(bytes)).as(mt.name).isEqualTo(mt.sha256);
            }
        }
    }

    @Test
    void ggufPyWriterWritesTheSameBytesAsOurs() throws IOException {
        assumeFalse(Boolean.getBoolean(REGENERATE));
        Manifest m = Manifest.parse(new String(resource("ours.gguf.manifest.txt"), StandardCharsets.US_ASCII));
        assertThat(m.header.get("gguf_py_writer")).isEqualTo("identical sha256=" + sha256(write("ours.gguf")));
        // ours-edge.gguf holds what GGUFWriter cannot write at all (empty arrays, nested arrays of
        // other element types than INT32/FLOAT32/BOOL/STRING), so there is no verdict to compare.
        Manifest edge = Manifest.parse(new String(resource("ours-edge.gguf.manifest.txt"), StandardCharsets.US_ASCII));
        assertThat(edge.header.get("gguf_py_writer")).startsWith("differs: gguf-py cannot write this content");
    }

    private byte[] write(String name) throws IOException {
        GgufWriter w = name.equals("ours.gguf") ? WriterReference.main() : WriterReference.edge();
        Path file = dir.resolve(name);
        w.write(file);
        return Files.readAllBytes(file);
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = GgufWriterReferenceTest.class.getResourceAsStream(RESOURCES + name)) {
            assertThat(in).as("test resource " + RESOURCES + name).isNotNull();
            return in.readAllBytes();
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private record ManifestTensor(String name, String type, long[] ggmlDims, long offset, long bytes, String sha256) {}

    /** The manifest format of gguf_writer_check.py (see its docstring). */
    private static final class Manifest {
        final Map<String, String> header = new LinkedHashMap<>();
        final Map<String, GgufValue> kv = new LinkedHashMap<>();
        final List<ManifestTensor> tensors = new ArrayList<>();

        static Manifest parse(String text) {
            Manifest m = new Manifest();
            for (String line : text.split("\n")) {
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                Cursor c = new Cursor(line);
                String word = c.word();
                c.expect(' ');
                switch (word) {
                    case "kv" -> {
                        String key = c.jsonString();
                        c.expect(' ');
                        GgufValue v = c.typedValue();
                        c.end();
                        assertThat(m.kv.put(key, v)).as("duplicate key " + key).isNull();
                    }
                    case "tensor" -> {
                        String name = c.jsonString();
                        String[] f = c.rest().trim().split(" ");
                        assertThat(f).as(line).hasSize(5);
                        String dims = field(f[1], "dims=");
                        long[] ggmlDims = java.util.Arrays.stream(
                                        dims.substring(1, dims.length() - 1).split(","))
                                .mapToLong(Long::parseLong)
                                .toArray();
                        m.tensors.add(new ManifestTensor(
                                name,
                                f[0],
                                ggmlDims,
                                Long.parseLong(field(f[2], "offset=")),
                                Long.parseLong(field(f[3], "bytes=")),
                                field(f[4], "sha256=")));
                    }
                    default -> m.header.put(word, c.rest());
                }
            }
            return m;
        }

        private static String field(String s, String prefix) {
            assertThat(s).startsWith(prefix);
            return s.substring(prefix.length());
        }
    }

    /** A tiny recursive-descent reader over one manifest line. */
    private static final class Cursor {
        private final String s;
        private int i;

        Cursor(String s) {
            this.s = s;
        }

        String word() {
            int start = i;
            while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                i++;
            }
            if (start == i) {
                throw fail("a word");
            }
            return s.substring(start, i);
        }

        String rest() {
            String r = s.substring(i);
            i = s.length();
            return r;
        }

        void expect(char ch) {
            if (i >= s.length() || s.charAt(i) != ch) {
                throw fail("'" + ch + "'");
            }
            i++;
        }

        void end() {
            if (i != s.length()) {
                throw fail("end of line");
            }
        }

        GgufValue typedValue() {
            GgufValueType type = GgufValueType.valueOf(word());
            if (type == GgufValueType.ARRAY) {
                expect('<');
                GgufValueType elementType = GgufValueType.valueOf(word());
                expect('>');
                expect('[');
                List<GgufValue> elements = new ArrayList<>();
                while (s.charAt(i) != ']') {
                    if (!elements.isEmpty()) {
                        expect(',');
                    }
                    elements.add(elementType == GgufValueType.ARRAY ? typedValue() : literal(elementType));
                }
                expect(']');
                return new GgufValue.Array(elementType, elements);
            }
            expect('(');
            GgufValue v = literal(type);
            expect(')');
            return v;
        }

        GgufValue literal(GgufValueType type) {
            if (type == GgufValueType.STRING) {
                return new GgufValue.Str(jsonString());
            }
            int start = i;
            while (i < s.length() && ",])".indexOf(s.charAt(i)) < 0) {
                i++;
            }
            String token = s.substring(start, i);
            return switch (type) {
                case BOOL ->
                    new GgufValue.Bool(
                            switch (token) {
                                case "true" -> true;
                                case "false" -> false;
                                default -> throw fail("true or false");
                            });
                case FLOAT32 -> new GgufValue.Float32((float) decimal(token));
                case FLOAT64 -> new GgufValue.Float64(decimal(token));
                case UINT8 -> new GgufValue.UInt8((byte) integer(token, 0, 255));
                case INT8 -> new GgufValue.Int8((byte) integer(token, Byte.MIN_VALUE, Byte.MAX_VALUE));
                case UINT16 -> new GgufValue.UInt16((short) integer(token, 0, 65535));
                case INT16 -> new GgufValue.Int16((short) integer(token, Short.MIN_VALUE, Short.MAX_VALUE));
                case UINT32 -> new GgufValue.UInt32((int) integer(token, 0, 0xFFFF_FFFFL));
                case INT32 -> new GgufValue.Int32((int) integer(token, Integer.MIN_VALUE, Integer.MAX_VALUE));
                case INT64 -> new GgufValue.Int64(Long.parseLong(token));
                case UINT64 -> new GgufValue.UInt64(Long.parseUnsignedLong(token));
                default -> throw fail("a literal of " + type);
            };
        }

        private static long integer(String token, long min, long max) {
            long v = new BigInteger(token).longValueExact();
            if (v < min || v > max) {
                throw new IllegalArgumentException(token + " is outside " + min + ".." + max);
            }
            return v;
        }

        private static double decimal(String token) {
            return switch (token) {
                case "nan" -> Double.NaN;
                case "inf" -> Double.POSITIVE_INFINITY;
                case "-inf" -> Double.NEGATIVE_INFINITY;
                default -> Double.parseDouble(token);
            };
        }

        /** A JSON string as Python's json.dumps(ensure_ascii=True) writes it. */
        String jsonString() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char ch = s.charAt(i++);
                if (ch == '"') {
                    return b.toString();
                }
                if (ch != '\\') {
                    b.append(ch);
                    continue;
                }
                char esc = s.charAt(i++);
                switch (esc) {
                    case '"', '\\', '/' -> b.append(esc);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> throw fail("a JSON escape");
                }
            }
        }

        private IllegalArgumentException fail(String expected) {
            return new IllegalArgumentException("manifest line, column " + i + ": expected " + expected + ": " + s);
        }
    }
}
