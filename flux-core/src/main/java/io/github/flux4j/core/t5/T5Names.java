package io.github.flux4j.core.t5;

import io.github.flux4j.core.weights.source.RenamedWeightSource;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.core.weights.source.WeightSource;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The tensor names {@link T5EncoderModel} binds: transformers' {@code T5EncoderModel} names
 * ({@code shared.weight}, {@code encoder.block.N.layer.0.SelfAttention.q.weight}, ...), and the
 * mapping from llama.cpp's GGUF names ({@code token_embd.weight}, {@code enc.blk.N.attn_q.weight},
 * ...), as gguf-py's {@code tensor_mapping} and city96's T5 files use them.
 */
public final class T5Names {
    /** The token embedding (transformers ties {@code encoder.embed_tokens.weight} to it). */
    public static final String SHARED = "shared.weight";
    /** The tied copy of {@link #SHARED} some checkpoints store as well. */
    public static final String EMBED_TOKENS = "encoder.embed_tokens.weight";
    /** The relative position bias table: only block 0 has one; every block reuses it. */
    public static final String RELATIVE_ATTENTION_BIAS =
            "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";

    private static final Pattern LLAMA_BLOCK = Pattern.compile("^enc\\.blk\\.(\\d+)\\.([a-z_]+)\\.weight$");
    private static final Map<String, String> LLAMA_BLOCK_PARTS = Map.ofEntries(
            Map.entry("attn_norm", "layer.0.layer_norm"),
            Map.entry("attn_q", "layer.0.SelfAttention.q"),
            Map.entry("attn_k", "layer.0.SelfAttention.k"),
            Map.entry("attn_v", "layer.0.SelfAttention.v"),
            Map.entry("attn_o", "layer.0.SelfAttention.o"),
            Map.entry("attn_rel_b", "layer.0.SelfAttention.relative_attention_bias"),
            Map.entry("ffn_norm", "layer.1.layer_norm"),
            Map.entry("ffn_gate", "layer.1.DenseReluDense.wi_0"),
            Map.entry("ffn_down", "layer.1.DenseReluDense.wo"));

    private T5Names() {}

    /**
     * The transformers name of a llama.cpp T5 tensor; null for the decoder half of an
     * encoder-decoder ({@code t5}) file ({@code dec.*}, {@code output.weight}), which an encoder
     * does not use; other names unchanged (so that strict binding reports them).
     *
     * @param gated whether the file's feed-forward is gated: llama.cpp writes both the gated
     *              {@code wi_1} and the plain {@code wi} as {@code ffn_up}
     */
    public static @Nullable String fromLlamaCpp(String name, boolean gated) {
        switch (name) {
            case "token_embd.weight":
                return SHARED;
            case "enc.output_norm.weight":
                return "encoder.final_layer_norm.weight";
            case "output.weight":
                return null;
            default:
                break;
        }
        if (name.startsWith("dec.")) {
            return null;
        }
        Matcher m = LLAMA_BLOCK.matcher(name);
        if (!m.matches()) {
            return name;
        }
        String part = m.group(2).equals("ffn_up")
                ? (gated ? "layer.1.DenseReluDense.wi_1" : "layer.1.DenseReluDense.wi")
                : LLAMA_BLOCK_PARTS.get(m.group(2));
        return part == null ? name : "encoder.block." + m.group(1) + "." + part + ".weight";
    }

    /**
     * {@code source} under the names {@link T5EncoderModel} binds, whichever naming it uses:
     * llama.cpp names (recognised by {@code token_embd.weight} or {@code enc.blk.*}) are mapped
     * with {@link #fromLlamaCpp}; transformers names are kept, except that the decoder half and
     * {@code lm_head} of a full T5 checkpoint are hidden (as {@code T5EncoderModel.from_pretrained}
     * ignores them), and {@link #EMBED_TOKENS} is hidden when {@link #SHARED} is present (a tied
     * copy) or read as {@link #SHARED} when it is not. Closing the view closes {@code source}.
     */
    public static RenamedWeightSource encoderView(WeightSource source) {
        Set<String> names = source.tensors().stream().map(WeightInfo::name).collect(Collectors.toSet());
        boolean llama = names.contains("token_embd.weight") || names.stream().anyMatch(n -> n.startsWith("enc.blk."));
        if (llama) {
            boolean gated = names.stream().anyMatch(n -> n.startsWith("enc.blk.") && n.endsWith(".ffn_gate.weight"));
            return RenamedWeightSource.of(source, n -> fromLlamaCpp(n, gated));
        }
        boolean hasShared = names.contains(SHARED);
        return RenamedWeightSource.of(source, n -> {
            if (n.startsWith("decoder.") || n.equals("lm_head.weight")) {
                return null;
            }
            if (n.equals(EMBED_TOKENS)) {
                return hasShared ? null : SHARED;
            }
            return n;
        });
    }
}
