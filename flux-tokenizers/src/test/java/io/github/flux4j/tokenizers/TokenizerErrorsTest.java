package io.github.flux4j.tokenizers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.flux4j.FluxIoException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad tokenizer files give exceptions that name the file and the problem. */
class TokenizerErrorsTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private static Path copyClip(Path tmp) throws IOException {
        for (String f : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
            Files.copy(Refs.resource("clip/" + f), tmp.resolve(f));
        }
        return tmp;
    }

    @Test
    void missingClipFiles(@TempDir Path tmp) throws IOException {
        assertThatThrownBy(() -> ClipTokenizer.fromDirectory(tmp))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("vocab.json");
        Files.copy(Refs.resource("clip/vocab.json"), tmp.resolve("vocab.json"));
        assertThatThrownBy(() -> ClipTokenizer.fromDirectory(tmp))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("merges.txt");
    }

    @Test
    void missingT5Files(@TempDir Path tmp) {
        assertThatThrownBy(() -> T5Tokenizer.fromDirectory(tmp))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("spiece.model");
    }

    @Test
    void malformedMergesLine(@TempDir Path tmp) throws IOException {
        copyClip(tmp);
        List<String> lines = Files.readAllLines(tmp.resolve("merges.txt"));
        lines.set(2, "a b c");
        Files.write(tmp.resolve("merges.txt"), lines);
        assertThatThrownBy(() -> ClipTokenizer.fromDirectory(tmp))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("merges.txt")
                .hasMessageContaining("line 3")
                .satisfies(
                        e -> assertThat(((TokenizerFormatException) e).file()).endsWith("merges.txt"));
    }

    @Test
    void mergeOfUnknownToken(@TempDir Path tmp) throws IOException {
        copyClip(tmp);
        Files.writeString(tmp.resolve("merges.txt"), "#version: 0.2\nzzzq x\n");
        assertThatThrownBy(() -> ClipTokenizer.fromDirectory(tmp))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("merges.txt")
                .hasMessageContaining("\"zzzq\" is not in the vocabulary");
    }

    @Test
    void vocabNotJson(@TempDir Path tmp) throws IOException {
        copyClip(tmp);
        Files.writeString(tmp.resolve("vocab.json"), "{\"a\": 1,");
        assertThatThrownBy(() -> ClipTokenizer.fromDirectory(tmp))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("vocab.json")
                .hasMessageContaining("invalid JSON");
        Files.writeString(tmp.resolve("vocab.json"), "{\"a\": \"x\"}");
        assertThatThrownBy(() -> ClipTokenizer.fromDirectory(tmp))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("vocab.json")
                .hasMessageContaining("not a non-negative integer");
    }

    @Test
    void specialTokenMissingFromVocab(@TempDir Path tmp) throws IOException {
        copyClip(tmp);
        ObjectNode vocab =
                (ObjectNode) MAPPER.readTree(tmp.resolve("vocab.json").toFile());
        vocab.remove("<|startoftext|>");
        MAPPER.writeValue(tmp.resolve("vocab.json").toFile(), vocab);
        assertThatThrownBy(() -> ClipTokenizer.fromDirectory(tmp))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("vocab.json")
                .hasMessageContaining("<|startoftext|>");
    }

    @Test
    void tokenizerJsonWithUnsupportedModelType(@TempDir Path tmp) throws IOException {
        ObjectNode doc = (ObjectNode)
                MAPPER.readTree(Refs.resource("clip/tokenizer.json").toFile());
        ((ObjectNode) doc.get("model")).put("type", "WordPiece");
        Path file = tmp.resolve("tokenizer.json");
        MAPPER.writeValue(file.toFile(), doc);
        assertThatThrownBy(() -> ClipTokenizer.fromTokenizerJson(file))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("unsupported model type \"WordPiece\"");
        // A Unigram file is not a CLIP tokenizer, and a BPE file not a T5 one.
        assertThatThrownBy(() -> ClipTokenizer.fromTokenizerJson(Refs.resource("t5/tokenizer.json")))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("\"Unigram\"");
        assertThatThrownBy(() -> T5Tokenizer.fromTokenizerJson(Refs.resource("clip/tokenizer.json")))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("\"BPE\"");
    }

    @Test
    void tokenizerJsonWithUnsupportedComponents(@TempDir Path tmp) throws IOException {
        ObjectNode doc =
                (ObjectNode) MAPPER.readTree(Refs.resource("t5/tokenizer.json").toFile());
        doc.set("normalizer", MAPPER.readTree("{\"type\":\"BertNormalizer\"}"));
        Path file = tmp.resolve("tokenizer.json");
        MAPPER.writeValue(file.toFile(), doc);
        assertThatThrownBy(() -> T5Tokenizer.fromTokenizerJson(file))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("unsupported normalizer type \"BertNormalizer\"");
        doc.set("normalizer", MAPPER.readTree("{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AQID\"}"));
        MAPPER.writeValue(file.toFile(), doc);
        assertThatThrownBy(() -> T5Tokenizer.fromTokenizerJson(file))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("precompiled_charsmap");
        Files.writeString(file, "[1, 2]");
        assertThatThrownBy(() -> T5Tokenizer.fromTokenizerJson(file))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("not a JSON object");
    }

    @Test
    void corruptSpieceModel(@TempDir Path tmp) throws IOException {
        byte[] good = Files.readAllBytes(Refs.resource("t5/spiece.model"));
        Path file = tmp.resolve("spiece.model");

        Files.write(file, Arrays.copyOf(good, good.length / 2));
        assertThatThrownBy(() -> T5Tokenizer.fromSentencePiece(file))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("spiece.model")
                .hasMessageContaining("not a valid SentencePiece model");

        Files.write(file, new byte[0]);
        assertThatThrownBy(() -> T5Tokenizer.fromSentencePiece(file))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("empty");

        Files.writeString(file, "this is not a protobuf file at all", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> T5Tokenizer.fromSentencePiece(file))
                .isInstanceOf(TokenizerFormatException.class)
                .hasMessageContaining("spiece.model");
    }

    /** Random corruption never escapes as anything but TokenizerFormatException (or loads). */
    @Test
    void mutatedSpieceModels(@TempDir Path tmp) throws IOException {
        byte[] good = Files.readAllBytes(Refs.resource("t5/spiece.model"));
        Path file = tmp.resolve("spiece.model");
        Random random = new Random(42);
        for (int k = 0; k < 300; k++) {
            byte[] bad = good.clone();
            // Half the mutants hit the pieces at the front, half anywhere (the charsmap is at the end).
            int range = k % 2 == 0 ? 4096 : bad.length;
            for (int j = 0; j < 1 + random.nextInt(8); j++) {
                bad[random.nextInt(range)] = (byte) random.nextInt(256);
            }
            Files.write(file, bad);
            try {
                T5Tokenizer tok = T5Tokenizer.fromSentencePiece(file);
                tok.encode("A photo of a cat, ＦＵＬＬ width 123!");
            } catch (TokenizerFormatException expected) {
                assertThat(expected.file()).endsWith("spiece.model");
            }
        }
    }

    @Test
    void maxLengthTooSmallForSpecialTokens() throws IOException {
        ClipTokenizer clip = ClipTokenizer.fromDirectory(Refs.resource("clip"));
        assertThatThrownBy(() -> clip.encodePadded(List.of("a cat"), 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("special tokens");
        EncodedBatch two = clip.encodePadded(List.of("a cat"), 2);
        assertThat(two.inputIds(0)).containsExactly(clip.tokenToId("<|startoftext|>"), clip.eosTokenId());
        assertThat(two.truncated(0)).isTrue();
    }
}
