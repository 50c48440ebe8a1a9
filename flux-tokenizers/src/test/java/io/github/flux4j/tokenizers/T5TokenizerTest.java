package io.github.flux4j.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.flux4j.tokenizers.internal.engine.Normalizer;
import io.github.flux4j.tokenizers.internal.sentencepiece.SentencePieceModel;
import io.github.flux4j.tokenizers.internal.sentencepiece.SentencePieceNormalizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * T5Tokenizer against transformers' T5Tokenizer(Fast), {@code tokenizers} on variants of the
 * tokenizer.json, and the SentencePiece library, on the tiny T5 tokenizer (tokenizer_refs.py).
 */
class T5TokenizerTest {
    static JsonNode refs;
    static List<String> texts;
    static int pad;

    @BeforeAll
    static void load() {
        refs = Refs.json("t5_refs.json");
        texts = Refs.texts(refs);
        pad = refs.get("pad_id").asInt();
    }

    @Test
    void fromTokenizerJsonMatchesTransformers() throws IOException {
        T5Tokenizer tok = T5Tokenizer.fromDirectory(Refs.resource("t5"));
        assertThat(tok.padTokenId()).isEqualTo(pad).isZero();
        assertThat(tok.eosTokenId()).isEqualTo(refs.get("eos_id").asInt()).isEqualTo(1);
        assertThat(tok.modelMaxLength()).isEqualTo(512);
        assertThat(tok.tokenToId("<unk>")).isEqualTo(refs.get("unk_id").asInt()).isEqualTo(2);
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            int[] ids = Refs.ints(refs.get("untruncated").get(i));
            assertThat(tok.encode(t)).as(Refs.label(i, t)).containsExactly(ids);
            // tokenizers shows an unknown token as the text it covers; we show <unk>.
            List<String> expected = Refs.strings(refs.get("tokens").get(i));
            for (int k = 0; k < ids.length; k++) {
                if (ids[k] == 2) {
                    expected.set(k, "<unk>");
                }
            }
            assertThat(tok.tokens(t)).as(Refs.label(i, t)).containsExactlyElementsOf(expected);
        }
        for (String len : new String[] {"512", "256", "77", "16"}) {
            int maxLength = Integer.parseInt(len);
            EncodedBatch batch = tok.encodePadded(texts, maxLength);
            assertThat(batch.sequenceLength()).isEqualTo(maxLength);
            for (int i = 0; i < texts.size(); i++) {
                int[] real = Refs.ints(refs.get(len).get(i));
                assertThat(batch.inputIds(i))
                        .as(Refs.label(i, texts.get(i)) + " @" + len)
                        .containsExactly(Refs.padded(real, maxLength, pad));
                assertThat(batch.attentionMask(i)).containsExactly(Refs.mask(real.length, maxLength));
                if (batch.truncated(i)) {
                    // T5 keeps </s> at the end of a truncated row.
                    assertThat(batch.inputIds(i)[maxLength - 1]).isEqualTo(1);
                }
            }
        }
        JsonNode longest = refs.get("longest");
        EncodedBatch batch = tok.encode(texts, 512, Padding.LONGEST, false);
        assertThat(batch.sequenceLength()).isEqualTo(longest.get("length").asInt());
        for (int i = 0; i < texts.size(); i++) {
            int[] real = Refs.ints(refs.get("untruncated").get(i));
            assertThat(batch.inputIds(i)).containsExactly(Refs.padded(real, batch.sequenceLength(), pad));
        }
    }

    @Test
    void precompiledNormalizerMatchesTokenizers() throws IOException {
        Normalizer n = TokenizerJson.read(Refs.resource("t5/tokenizer.json"), "Unigram").normalizer;
        assertThat(n).isNotNull();
        for (int i = 0; i < texts.size(); i++) {
            assertThat(n.normalize(texts.get(i)))
                    .as(Refs.label(i, texts.get(i)))
                    .isEqualTo(refs.get("normalized").get(i).asText());
        }
    }

    @Test
    void decodeMatchesTransformers() throws IOException {
        T5Tokenizer tok = T5Tokenizer.fromDirectory(Refs.resource("t5"));
        for (int i = 0; i < texts.size(); i++) {
            int[] ids = Refs.ints(refs.get("untruncated").get(i));
            assertThat(tok.decode(ids, true))
                    .as(Refs.label(i, texts.get(i)))
                    .isEqualTo(refs.get("decoded").get(i).asText());
        }
    }

    /** The spellings older converters wrote into tokenizer.json; same edits as t5_variants() in the script. */
    @Test
    void tokenizerJsonVariantsMatchTokenizers(@TempDir Path tmp) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        JsonNode doc = mapper.readTree(Refs.resource("t5/tokenizer.json").toFile());
        JsonNode norm = doc.get("normalizer");
        String charsmap = norm.get("type").asText().equals("Precompiled")
                ? norm.get("precompiled_charsmap").asText()
                : findPrecompiled(norm).get("precompiled_charsmap").asText();
        String pre = "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"" + charsmap + "\"}";
        String collapse = "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"}";
        String[][] variants = {
            {
                "legacy",
                "{\"type\":\"Sequence\",\"normalizers\":[" + pre + "," + collapse + "]}",
                "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},"
                        + "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"add_prefix_space\":true}]}"
            },
            {
                "spm_converter",
                "{\"type\":\"Sequence\",\"normalizers\":[" + pre
                        + ",{\"type\":\"Strip\",\"strip_left\":false,\"strip_right\":true},"
                        + "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\"\u2581\"}]}",
                "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"always\",\"split\":true}"
            },
            {
                "prepend_first",
                pre,
                "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"first\",\"split\":false}"
            },
        };
        for (String[] v : variants) {
            ObjectNode copy = doc.deepCopy();
            copy.set("normalizer", mapper.readTree(v[1]));
            copy.set("pre_tokenizer", mapper.readTree(v[2]));
            Path file = tmp.resolve(v[0] + ".json");
            mapper.writeValue(file.toFile(), copy);
            T5Tokenizer tok = T5Tokenizer.fromTokenizerJson(file);
            JsonNode expected = refs.get("variants").get(v[0]);
            for (int i = 0; i < texts.size(); i++) {
                assertThat(tok.encode(texts.get(i)))
                        .as(v[0] + " " + Refs.label(i, texts.get(i)))
                        .containsExactly(Refs.ints(expected.get(i)));
            }
        }
    }

    private static JsonNode findPrecompiled(JsonNode seq) {
        for (JsonNode n : seq.get("normalizers")) {
            if (n.get("type").asText().equals("Precompiled")) {
                return n;
            }
        }
        throw new AssertionError("no Precompiled normalizer");
    }

    @Test
    void fromSentencePieceMatchesTheSentencePieceLibrary() throws IOException {
        T5Tokenizer tok = T5Tokenizer.fromSentencePiece(Refs.resource("t5/spiece.model"));
        JsonNode sp = refs.get("sentencepiece");
        assertThat(tok.padTokenId()).isZero();
        assertThat(tok.eosTokenId()).isEqualTo(1);
        for (int i = 0; i < texts.size(); i++) {
            assertThat(tok.encode(texts.get(i)))
                    .as(Refs.label(i, texts.get(i)))
                    .containsExactly(Refs.ints(sp.get("untruncated").get(i)));
        }
        for (String len : new String[] {"512", "77"}) {
            int maxLength = Integer.parseInt(len);
            EncodedBatch batch = tok.encodePadded(texts, maxLength);
            for (int i = 0; i < texts.size(); i++) {
                int[] real = Refs.ints(sp.get(len).get(i));
                assertThat(batch.inputIds(i)).containsExactly(Refs.padded(real, maxLength, 0));
            }
        }
        // The same ids as the tokenizer.json except where tokenizers' Precompiled quirk differs.
        T5Tokenizer fast = T5Tokenizer.fromDirectory(Refs.resource("t5"));
        int differing = 0;
        for (String t : texts) {
            if (!java.util.Arrays.equals(fast.encode(t), tok.encode(t))) {
                differing++;
            }
        }
        assertThat(differing).isLessThanOrEqualTo(2);
    }

    @Test
    void sentencePieceNormalizerMatchesTheLibrary() throws IOException {
        SentencePieceModel model = SentencePieceModel.parse(Files.readAllBytes(Refs.resource("t5/spiece.model")));
        assertThat(model.normalizer().name()).isEqualTo("nmt_nfkc");
        assertThat(model.pieces()).hasSize(1000);
        assertThat(model.pieces().get(0).piece()).isEqualTo("<pad>");
        assertThat(model.pieces().get(0).type()).isEqualTo(SentencePieceModel.Type.CONTROL);
        assertThat(model.unkId()).isEqualTo(2);
        SentencePieceNormalizer n = new SentencePieceNormalizer(model.normalizer(), false, List.of());
        JsonNode expected = refs.get("sentencepiece").get("normalized");
        for (int i = 0; i < texts.size(); i++) {
            assertThat(n.normalize(texts.get(i)))
                    .as(Refs.label(i, texts.get(i)))
                    .isEqualTo(expected.get(i).asText());
        }
    }

    @Test
    void fromDirectoryFallsBackToSpieceModel(@TempDir Path tmp) throws IOException {
        for (String f : new String[] {"spiece.model", "tokenizer_config.json", "special_tokens_map.json"}) {
            Files.copy(Refs.resource("t5/" + f), tmp.resolve(f));
        }
        T5Tokenizer tok = T5Tokenizer.fromDirectory(tmp);
        assertThat(tok.encode(texts.get(3)))
                .containsExactly(
                        Refs.ints(refs.get("sentencepiece").get("untruncated").get(3)));
        assertThat(tok.tokenToId("<extra_id_0>")).isEqualTo(1099);
        assertThat(tok.tokenToId("<extra_id_99>")).isEqualTo(1000);
        assertThat(tok.vocabSize()).isEqualTo(1100);
    }

    @Test
    void isThreadSafe() throws IOException {
        T5Tokenizer tok = T5Tokenizer.fromDirectory(Refs.resource("t5"));
        List<int[]> expected = new ArrayList<>();
        texts.forEach(t -> expected.add(tok.encode(t)));
        IntStream.range(0, 1000).parallel().forEach(k -> {
            int i = k % texts.size();
            assertThat(tok.encode(texts.get(i))).containsExactly(expected.get(i));
        });
    }
}
