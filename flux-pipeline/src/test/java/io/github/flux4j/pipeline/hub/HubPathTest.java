package io.github.flux4j.pipeline.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The command line's spelling of repository files, and allow-pattern matching. */
class HubPathTest {
    @Test
    void parsesRepositoryRevisionAndPath() {
        assertThat(HubPath.parse("city96/FLUX.1-dev-gguf/flux1-dev-Q8_0.gguf"))
                .isEqualTo(new HubPath("city96/FLUX.1-dev-gguf", null, "flux1-dev-Q8_0.gguf"));
        assertThat(HubPath.parse("hf://city96/FLUX.1-dev-gguf@v2/sub/dir/f.gguf"))
                .isEqualTo(new HubPath("city96/FLUX.1-dev-gguf", "v2", "sub/dir/f.gguf"));
        assertThat(HubPath.parse("black-forest-labs/FLUX.1-dev/transformer").path())
                .isEqualTo("transformer");
    }

    @Test
    void rejectsWhatIsNotARepositoryFile() {
        for (String bad : List.of(
                "flux1-dev.gguf",
                "city96/FLUX.1-dev-gguf",
                "city96/FLUX.1-dev-gguf/",
                "/abs/path/x.gguf",
                "a--b/c/d",
                "org/name@/f",
                "org/name/../x",
                "org/name//x",
                "./org/name")) {
            assertThat(HubPath.tryParse(bad)).as(bad).isEmpty();
        }
        assertThatThrownBy(() -> HubPath.parse("org/name/../x"))
                .hasMessageContaining("'org/name/../x'")
                .hasMessageContaining("not a path in a repository");
    }

    @Test
    void patternsMatchLikeAllowPatterns() {
        // fnmatch semantics: '*' crosses '/', a trailing '/' means the whole folder.
        assertThat(Glob.of("*.json").matches("tokenizer/vocab.json")).isTrue();
        assertThat(Glob.of("vae/").matches("vae/config.json")).isTrue();
        assertThat(Glob.of("vae/").matches("vae2/config.json")).isFalse();
        assertThat(Glob.of("model-?????-of-*.safetensors").matches("model-00001-of-00002.safetensors"))
                .isTrue();
        assertThat(Glob.of("model-[0-9]*").matches("model-1")).isTrue();
        assertThat(Glob.of("model-[!0-9]*").matches("model-1")).isFalse();
        assertThat(Glob.of("a.b").matches("aXb")).isFalse();
        assertThat(Glob.of("Vae/*").matches("vae/x")).isFalse();
    }
}
