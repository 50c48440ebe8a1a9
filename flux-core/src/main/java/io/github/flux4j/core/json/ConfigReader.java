package io.github.flux4j.core.json;

import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.BeanProperty;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.deser.ContextualDeserializer;
import com.fasterxml.jackson.databind.deser.DeserializationProblemHandler;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import io.github.flux4j.FluxException;
import io.github.flux4j.FluxIoException;
import java.io.IOException;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one reader of flux4j's JSON configuration files ({@code model_index.json},
 * {@code scheduler_config.json}, a transformers or diffusers {@code config.json}): it binds a JSON
 * object to a record with Jackson, and turns every failure into the caller's documented exception,
 * with a message that names the file and the key.
 *
 * <p>A configuration type declares its keys as a {@code @JsonCreator} factory (or constructor)
 * whose parameters carry {@code @JsonProperty} with the file's key names. The rules:
 *
 * <ul>
 *   <li>Optional keys are boxed {@code @Nullable} parameters: an absent key and a {@code null}
 *       value both arrive as {@code null}, and the factory puts the library's default in their
 *       place ({@code Objects.requireNonNullElse}). A key that must not be {@code null} when
 *       present carries {@link NullRefused}; a required key is checked with {@link #required}
 *       (or declared as a primitive, which is required and never {@code null}).
 *   <li>Scalars are strict, as the files' Python readers would use them: an {@code Integer} takes
 *       a JSON integer within 32 bits ({@code 512}, not {@code 512.0} or {@code "512"}; with
 *       {@link WholeNumber}, also {@code 512.0}), a {@code Double} any finite JSON number, a
 *       {@code Boolean} only {@code true} or {@code false}, a {@code String} only a JSON string.
 *       Lists refuse {@code null} entries.
 *   <li>Unknown keys are ignored, as diffusers and transformers ignore them (logged at debug
 *       level, except metadata keys starting with {@code _}).
 *   <li>An {@link IllegalArgumentException} or {@link FluxException} thrown by the factory (a value
 *       out of range, a required key missing) becomes the caller's exception, its message prefixed
 *       with the file.
 * </ul>
 *
 * <p>Every refusal is made by the {@link Failure} given to {@link #of}, with a problem phrased as
 * {@code "not valid JSON: <what, line, column>"}, {@code "expected a JSON object"},
 * {@code "<key> must be an integer, got 512.5"}, {@code "<key> is missing"} or the factory's
 * message; nested keys are named as {@code text_config.hidden_size} and list entries as
 * {@code block_out_channels[2]}.
 */
public final class ConfigReader {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigReader.class);

    /** The longest rendering of an offending value in a message. */
    private static final int MAX_SHOWN = 80;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .addModule(strictScalars())
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .defaultSetterInfo(JsonSetter.Value.forContentNulls(Nulls.FAIL))
            .build();

    /**
     * Makes the caller's exception.
     */
    @FunctionalInterface
    public interface Failure {
        /**
         * The exception to throw.
         *
         * @param source  the file (or what the caller named the text or map)
         * @param problem what is wrong, naming the key where there is one
         * @param cause   Jackson's exception, the factory's, or null
         * @return the exception, which the reader throws
         */
        RuntimeException create(String source, String problem, @Nullable Throwable cause);
    }

    private final Failure failure;
    private final ObjectReader parser;

    private ConfigReader(Failure failure, ObjectReader parser) {
        this.failure = failure;
        this.parser = parser;
    }

    /**
     * A reader that reports problems through {@code failure}. A key given twice keeps its last
     * value, as Python's {@code json} does; see {@link #rejectingDuplicateKeys()}.
     */
    public static ConfigReader of(Failure failure) {
        return new ConfigReader(failure, MAPPER.reader());
    }

    /** This reader, refusing a key given twice in one object as not valid JSON. */
    public ConfigReader rejectingDuplicateKeys() {
        return new ConfigReader(failure, parser.with(StreamReadFeature.STRICT_DUPLICATE_DETECTION));
    }

    /**
     * Reads a UTF-8 JSON file into {@code type}.
     *
     * @throws FluxIoException if the file cannot be read
     * @throws RuntimeException the {@link Failure}'s exception, naming the file, if the content is
     *                          not valid JSON, not an object, or does not bind to {@code type}
     */
    public <T> T read(Path file, Class<T> type) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw FluxIoException.of(file, e);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8
                    .newDecoder()
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw failure.create(file.toString(), "not valid JSON: the file is not UTF-8 text", e);
        }
        return parse(text, file.toString(), type);
    }

    /**
     * Parses JSON text into {@code type}.
     *
     * @param source names the text in messages (a file name, say)
     * @throws RuntimeException as {@link #read}
     */
    public <T> T parse(String json, String source, Class<T> type) {
        JsonNode root;
        try {
            root = parser.readTree(json);
        } catch (JsonProcessingException e) {
            throw failure.create(source, "not valid JSON: " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw failure.create(source, "expected a JSON object", null);
        }
        return bind(root, source, type);
    }

    /**
     * Binds an already parsed JSON object (such as {@code WeightSource.config()}: JSON values as
     * Java maps, lists, strings, numbers, booleans and nulls) to {@code type}.
     *
     * @param source names the values in messages (the file they came from)
     * @throws RuntimeException as {@link #read}
     */
    public <T> T bind(Map<String, ?> values, String source, Class<T> type) {
        JsonNode root = MAPPER.valueToTree(values);
        return bind(root, source, type);
    }

    /**
     * The value of a required key.
     *
     * @throws IllegalArgumentException {@code "<key> is missing"} if it is null (absent, or
     *                                  {@code null} in the file); the reader reports it naming the file
     */
    public static <T> T required(@Nullable T value, String key) {
        if (value == null) {
            throw new IllegalArgumentException(key + " is missing");
        }
        return value;
    }

    private <T> T bind(JsonNode root, String source, Class<T> type) {
        try {
            return MAPPER.readerFor(type).withHandler(new UnknownKeys(source)).treeToValue(root, type);
        } catch (JsonMappingException e) {
            throw translate(e, root, source);
        } catch (JsonProcessingException e) {
            throw failure.create(source, JsonErrors.describe(e), e);
        }
    }

    private RuntimeException translate(JsonMappingException e, JsonNode root, String source) {
        List<JsonMappingException.Reference> path = e.getPath();
        String key = keyOf(path);
        Throwable cause = e.getCause();
        if (e instanceof ValueInstantiationException && cause != null) {
            if (cause instanceof IllegalArgumentException || cause instanceof FluxException) {
                String message = String.valueOf(cause.getMessage());
                return failure.create(source, key.isEmpty() ? message : key + ": " + message, cause);
            }
            if (cause instanceof RuntimeException r) {
                return r; // a bug in the factory, not a problem of the file
            }
        }
        if (e instanceof MismatchedInputException m && !key.isEmpty()) {
            JsonNode value = find(root, path);
            return value == null
                    ? failure.create(source, key + " is missing", e)
                    : failure.create(source, key + " must be " + expected(m) + ", got " + show(value), e);
        }
        return failure.create(source, (key.isEmpty() ? "" : key + ": ") + JsonErrors.describe(e), e);
    }

    /** {@code text_config.hidden_size}, {@code block_out_channels[2]}; empty for the root. */
    private static String keyOf(List<JsonMappingException.Reference> path) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : path) {
            String field = r.getFieldName();
            if (field != null) {
                if (b.length() > 0) {
                    b.append('.');
                }
                b.append(field);
            } else if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    /**
     * The value at {@code path} from {@code root}, or null if its last key is absent. Where the
     * path goes on into a value that is not a container (a scalar given for a list), that value.
     */
    private static @Nullable JsonNode find(JsonNode root, List<JsonMappingException.Reference> path) {
        JsonNode node = root;
        for (JsonMappingException.Reference r : path) {
            String field = r.getFieldName();
            if (field != null && node.isObject()) {
                JsonNode next = node.get(field);
                if (next == null) {
                    return null;
                }
                node = next;
            } else if (field == null && node.isArray() && r.getIndex() >= 0 && r.getIndex() < node.size()) {
                node = node.get(r.getIndex());
            } else {
                break;
            }
        }
        return node;
    }

    private static String expected(MismatchedInputException e) {
        if (e instanceof Mismatch m) {
            return m.expected;
        }
        Class<?> t = e.getTargetType();
        if (t == null) {
            return "a valid value";
        }
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class) {
            return "an integer";
        }
        if (t == Double.class || t == double.class || t == Float.class || t == float.class) {
            return "a number";
        }
        if (t == Boolean.class || t == boolean.class) {
            return "true or false";
        }
        if (t == String.class) {
            return "a string";
        }
        if (Collection.class.isAssignableFrom(t) || t.isArray()) {
            return "a list";
        }
        return "an object";
    }

    private static String show(JsonNode value) {
        String s = value.isNumber() ? String.valueOf(value.numberValue()) : value.toString();
        return s.length() <= MAX_SHOWN ? s : s.substring(0, MAX_SHOWN) + "...";
    }

    /**
     * On a creator parameter: the key may be absent (its default applies), but a {@code null}
     * value is refused ({@code "<key> must be a number, got null"}), for keys whose {@code null}
     * the Python side stores and then fails on.
     */
    @Target(ElementType.PARAMETER)
    @Retention(RetentionPolicy.RUNTIME)
    @Documented
    public @interface NullRefused {}

    /**
     * On an {@code Integer} creator parameter: a number without a fraction ({@code 1000.0}) is
     * taken as an integer too, for keys that the Python side only uses in arithmetic, where
     * {@code 1000.0} works as well as {@code 1000}.
     */
    @Target(ElementType.PARAMETER)
    @Retention(RetentionPolicy.RUNTIME)
    @Documented
    public @interface WholeNumber {}

    /** Logs and skips keys the type does not declare. */
    private static final class UnknownKeys extends DeserializationProblemHandler {
        private final String source;

        UnknownKeys(String source) {
            this.source = source;
        }

        @Override
        public boolean handleUnknownProperty(
                DeserializationContext ctxt,
                JsonParser p,
                JsonDeserializer<?> deserializer,
                Object beanOrClass,
                String propertyName)
                throws IOException {
            if (!propertyName.startsWith("_")) {
                LOG.debug("{}: ignoring unknown key '{}'", source, propertyName);
            }
            p.skipChildren();
            return true;
        }
    }

    // ------------------------------------------------------------------------------ scalars

    /** A value of the wrong JSON type: the message is what was expected ("an integer"). */
    private static final class Mismatch extends MismatchedInputException {
        private static final long serialVersionUID = 1L;
        private final String expected;

        Mismatch(JsonParser p, Class<?> type, String expected) {
            super(p, "expected " + expected, type);
            this.expected = expected;
        }
    }

    private static SimpleModule strictScalars() {
        SimpleModule m = new SimpleModule("flux4j-strict-scalars");
        m.addDeserializer(Integer.class, new Scalar<>(Integer.class, Integer.class, Kind.INTEGER));
        m.addDeserializer(int.class, new Scalar<>(int.class, Integer.class, Kind.INTEGER));
        m.addDeserializer(Double.class, new Scalar<>(Double.class, Double.class, Kind.NUMBER));
        m.addDeserializer(double.class, new Scalar<>(double.class, Double.class, Kind.NUMBER));
        m.addDeserializer(Boolean.class, new Scalar<>(Boolean.class, Boolean.class, Kind.BOOLEAN));
        m.addDeserializer(boolean.class, new Scalar<>(boolean.class, Boolean.class, Kind.BOOLEAN));
        m.addDeserializer(String.class, new Scalar<>(String.class, String.class, Kind.STRING));
        return m;
    }

    private enum Kind {
        INTEGER("an integer"),
        NUMBER("a number"),
        BOOLEAN("true or false"),
        STRING("a string");

        final String expected;

        Kind(String expected) {
            this.expected = expected;
        }
    }

    /**
     * One JSON scalar type, strictly. An absent key is null (its default applies); a {@code null}
     * value is null too, unless the parameter is {@link NullRefused}. For a primitive, an absent
     * key and a {@code null} are refused.
     */
    private static final class Scalar<T> extends StdScalarDeserializer<T> implements ContextualDeserializer {
        private static final long serialVersionUID = 1L;
        private final Class<T> boxed;
        private final Kind kind;
        private final boolean refuseNull;
        private final boolean wholeFloats;

        Scalar(Class<?> handled, Class<T> boxed, Kind kind) {
            this(handled, boxed, kind, false, false);
        }

        private Scalar(Class<?> handled, Class<T> boxed, Kind kind, boolean refuseNull, boolean wholeFloats) {
            super(handled);
            this.boxed = boxed;
            this.kind = kind;
            this.refuseNull = refuseNull;
            this.wholeFloats = wholeFloats;
        }

        @Override
        public JsonDeserializer<?> createContextual(DeserializationContext ctxt, @Nullable BeanProperty property) {
            if (property == null) {
                return this;
            }
            boolean nulls = property.getAnnotation(NullRefused.class) != null;
            boolean whole = property.getAnnotation(WholeNumber.class) != null;
            if (whole && kind != Kind.INTEGER) {
                throw new IllegalStateException("@WholeNumber on " + property.getName() + ", which is not an Integer");
            }
            return nulls == refuseNull && whole == wholeFloats
                    ? this
                    : new Scalar<>(handledType(), boxed, kind, nulls, whole);
        }

        @Override
        public T deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            return boxed.cast(value(p));
        }

        private Object value(JsonParser p) throws IOException {
            JsonToken t = p.currentToken();
            switch (kind) {
                case INTEGER -> {
                    if (t == JsonToken.VALUE_NUMBER_INT) {
                        BigInteger v = p.getBigIntegerValue();
                        if (v.bitLength() < 32) {
                            return v.intValue();
                        }
                        throw new Mismatch(p, boxed, "a 32-bit integer");
                    }
                    if (wholeFloats && t == JsonToken.VALUE_NUMBER_FLOAT) {
                        double d = p.getDoubleValue();
                        if (d == Math.rint(d) && d >= Integer.MIN_VALUE && d <= Integer.MAX_VALUE) {
                            return (int) d;
                        }
                    }
                }
                case NUMBER -> {
                    if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                        double d = p.getDoubleValue(); // 1e999 overflows to infinity
                        if (Double.isFinite(d)) {
                            return d;
                        }
                        throw new Mismatch(p, boxed, "a finite number");
                    }
                }
                case BOOLEAN -> {
                    if (t == JsonToken.VALUE_TRUE || t == JsonToken.VALUE_FALSE) {
                        return t == JsonToken.VALUE_TRUE;
                    }
                }
                case STRING -> {
                    if (t == JsonToken.VALUE_STRING) {
                        return p.getText();
                    }
                }
            }
            throw new Mismatch(p, boxed, kind.expected);
        }

        @Override
        public @Nullable T getNullValue(DeserializationContext ctxt) throws JsonMappingException {
            if (refuseNull || handledType().isPrimitive()) {
                throw new Mismatch(ctxt.getParser(), boxed, kind.expected);
            }
            return null;
        }

        @Override
        public @Nullable Object getAbsentValue(DeserializationContext ctxt) throws JsonMappingException {
            if (handledType().isPrimitive()) {
                throw new Mismatch(ctxt.getParser(), boxed, kind.expected);
            }
            return null;
        }
    }
}
