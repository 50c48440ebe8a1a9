package io.github.flux4j.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ClipTokenizer against transformers' CLIPTokenizer on the tiny CLIP tokenizer (tokenizer_refs.py). */
class ClipTokenizerTest {
    static JsonNode refs;
    static List<String> texts;
    static int pad;

    @BeforeAll
    static void load() {
        refs = Refs.json("clip_refs.json");
        texts = Refs.texts(refs);
        pad = refs.get("pad_id").asInt();
        assertThat(texts).hasSizeGreaterThanOrEqualTo(60);
    }

    /** The folder without tokenizer.json: vocab.json + merges.txt, as FLUX.1's tokenizer/ folder. */
    static Path vocabFolder(Path tmp) throws IOException {
        for (String f : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
            Files.copy(Refs.resource("clip/" + f), tmp.resolve(f));
        }
        return tmp;
    }

    @Test
    void fromTokenizerJsonMatchesTransformers() throws IOException {
        ClipTokenizer tok = ClipTokenizer.fromDirectory(Refs.resource("clip"));
        assertMatches(tok);
    }

    @Test
    void fromVocabAndMergesMatchesTransformers(@TempDir Path tmp) throws IOException {
        ClipTokenizer tok = ClipTokenizer.fromDirectory(vocabFolder(tmp));
        assertMatches(tok);
    }

    @Test
    void fromFilesUsesDefaultSpecialTokens() throws IOException {
        ClipTokenizer tok = ClipTokenizer.fromFiles(Refs.resource("clip/vocab.json"), Refs.resource("clip/merges.txt"));
        assertThat(tok.modelMaxLength()).isEqualTo(77);
        assertThat(tok.padTokenId()).isEqualTo(pad);
        // Differs from the configured folder only where <|startoftext|> is matched case-insensitively.
        for (int i = 0; i < texts.size(); i++) {
            if (!texts.get(i).toLowerCase(Locale.ROOT).contains("<|startoftext|>")) {
                assertThat(tok.encode(texts.get(i)))
                        .as(Refs.label(i, texts.get(i)))
                        .containsExactly(Refs.ints(refs.get("untruncated").get(i)));
            }
        }
    }

    /** transformers 4's Python CLIPTokenizer, as restated in tokenizer_refs.py (clip_slow_refs). */
    @Test
    void slowFlavorMatchesTransformers4Algorithm() throws IOException {
        ClipTokenizer slow = ClipTokenizer.fromDirectory(Refs.resource("clip"), ClipTokenizer.Flavor.SLOW);
        ClipTokenizer fast = ClipTokenizer.fromDirectory(Refs.resource("clip"));
        int differing = 0;
        for (int i = 0; i < texts.size(); i++) {
            int[] expected = Refs.ints(refs.get("slow_v4").get(i));
            assertThat(slow.encode(texts.get(i)))
                    .as(Refs.label(i, texts.get(i)))
                    .containsExactly(expected);
            if (!Arrays.equals(expected, fast.encode(texts.get(i)))) {
                differing++;
            }
        }
        // CJK, control and format characters, final sigma, case variants of the special tokens.
        assertThat(differing).isBetween(5, 15);
        EncodedBatch batch = slow.encodePadded(texts, 77);
        assertThat(batch.sequenceLength()).isEqualTo(77);
        assertThat(batch.inputIds(27)[batch.realLength(27) - 1]).isEqualTo(slow.eosTokenId());
    }

    static void assertMatches(ClipTokenizer tok) {
        assertThat(tok.padTokenId()).isEqualTo(pad);
        assertThat(tok.eosTokenId()).isEqualTo(refs.get("eos_id").asInt());
        assertThat(tok.modelMaxLength()).isEqualTo(77);
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            assertThat(tok.tokens(t))
                    .as(Refs.label(i, t))
                    .containsExactlyElementsOf(Refs.strings(refs.get("tokens").get(i)));
            assertThat(tok.encode(t))
                    .as(Refs.label(i, t))
                    .containsExactly(Refs.ints(refs.get("untruncated").get(i)));
        }
        for (String len : new String[] {"77", "16"}) {
            int maxLength = Integer.parseInt(len);
            EncodedBatch batch = tok.encodePadded(texts, maxLength);
            assertThat(batch.sequenceLength()).isEqualTo(maxLength);
            for (int i = 0; i < texts.size(); i++) {
                int[] real = Refs.ints(refs.get(len).get(i));
                assertThat(batch.inputIds(i))
                        .as(Refs.label(i, texts.get(i)) + " @" + len)
                        .containsExactly(Refs.padded(real, maxLength, pad));
                assertThat(batch.attentionMask(i)).containsExactly(Refs.mask(real.length, maxLength));
            }
        }
        JsonNode longest = refs.get("longest");
        EncodedBatch batch = tok.encode(texts, 77, Padding.LONGEST, false);
        assertThat(batch.sequenceLength()).isEqualTo(longest.get("length").asInt());
        for (int i = 0; i < texts.size(); i++) {
            int[] real = Refs.ints(refs.get("untruncated").get(i));
            assertThat(batch.inputIds(i)).containsExactly(Refs.padded(real, batch.sequenceLength(), pad));
            assertThat(batch.attentionMask(i)).containsExactly(Refs.mask(real.length, batch.sequenceLength()));
        }
    }

    @Test
    void decodeMatchesTransformers() throws IOException {
        ClipTokenizer tok = ClipTokenizer.fromDirectory(Refs.resource("clip"));
        for (int i = 0; i < texts.size(); i++) {
            int[] ids = Refs.ints(refs.get("untruncated").get(i));
            assertThat(tok.decode(ids, true))
                    .as(Refs.label(i, texts.get(i)))
                    .isEqualTo(refs.get("decoded").get(i).asText());
        }
    }

    @Test
    void truncationReportsTheRemovedPart() throws IOException {
        ClipTokenizer tok = ClipTokenizer.fromDirectory(Refs.resource("clip"));
        EncodedBatch batch = tok.encodePadded(texts, 77);
        int truncatedRows = 0;
        for (int i = 0; i < texts.size(); i++) {
            int[] full = Refs.ints(refs.get("untruncated").get(i));
            assertThat(batch.untruncatedIds(i)).containsExactly(full);
            if (full.length > 77) {
                truncatedRows++;
                assertThat(batch.truncated(i)).isTrue();
                // diffusers: untruncated_ids[:, 76:-1], i.e. the text tokens after the 75 kept ones.
                int[] removed = Arrays.copyOfRange(full, 76, full.length - 1);
                assertThat(batch.removedIds(i)).containsExactly(removed);
                assertThat(batch.removedText(i))
                        .isEqualTo(tok.decode(removed, false))
                        .isNotEmpty();
                assertThat(batch.inputIds(i)[76]).isEqualTo(tok.eosTokenId());
            } else {
                assertThat(batch.truncated(i)).isFalse();
                assertThat(batch.removedText(i)).isEmpty();
            }
        }
        assertThat(truncatedRows).isGreaterThanOrEqualTo(3);
        assertThat(batch.anyTruncated()).isTrue();
        assertThat(batch.removedTexts()).hasSize(truncatedRows);
        long[] flat = batch.inputIdsFlat();
        assertThat(flat).hasSize(texts.size() * 77);
        assertThat(flat[77]).isEqualTo(batch.inputIds(1)[0]);
        assertThat(batch.attentionMaskFlat()).hasSize(texts.size() * 77);
    }

    @Test
    void isThreadSafe() throws IOException {
        ClipTokenizer tok = ClipTokenizer.fromDirectory(Refs.resource("clip"));
        List<int[]> expected = texts.stream().map(tok::encode).toList();
        IntStream.range(0, 2000).parallel().forEach(k -> {
            int i = k % texts.size();
            assertThat(tok.encode(texts.get(i))).containsExactly(expected.get(i));
        });
    }

    @Test
    void specialTokenIdsAndVocabulary() throws IOException {
        ClipTokenizer tok = ClipTokenizer.fromDirectory(Refs.resource("clip"));
        assertThat(tok.tokenToId("<|startoftext|>"))
                .isEqualTo(refs.get("bos_id").asInt());
        assertThat(tok.tokenToId("<|endoftext|>")).isEqualTo(refs.get("eos_id").asInt());
        assertThat(tok.idToToken(tok.eosTokenId())).isEqualTo("<|endoftext|>");
        assertThat(tok.tokenToId("no such token")).isEqualTo(-1);
        assertThat(tok.vocabSize()).isEqualTo(tok.eosTokenId() + 1);
        assertThat(tok.encode(""))
                .containsExactly(refs.get("bos_id").asInt(), refs.get("eos_id").asInt());
    }
}
