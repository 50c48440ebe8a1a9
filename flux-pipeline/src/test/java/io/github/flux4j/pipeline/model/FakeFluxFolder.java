package io.github.flux4j.pipeline.model;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes the file layout of black-forest-labs/FLUX.1-dev (names and configuration files as on the
 * Hub; weight files are short placeholders, which the folder never reads), either as a plain folder
 * or as a Hugging Face cache entry of symbolic links into {@code blobs/}.
 */
final class FakeFluxFolder {
    static final String REPO = "black-forest-labs/FLUX.1-dev";
    static final String COMMIT = "0ef5fff789c832c5c7f4e127f94c8b54bbcced44";

    private FakeFluxFolder() {}

    /** Relative path to content, in the order written. */
    static Map<String, String> files() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("model_index.json", """
                {
                  "_class_name": "FluxPipeline",
                  "_diffusers_version": "0.30.0.dev0",
                  "feature_extractor": [null, null],
                  "image_encoder": [null, null],
                  "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                  "text_encoder": ["transformers", "CLIPTextModel"],
                  "text_encoder_2": ["transformers", "T5EncoderModel"],
                  "tokenizer": ["transformers", "CLIPTokenizer"],
                  "tokenizer_2": ["transformers", "T5TokenizerFast"],
                  "transformer": ["diffusers", "FluxTransformer2DModel"],
                  "vae": ["diffusers", "AutoencoderKL"]
                }
                """);
        f.put("scheduler/scheduler_config.json", """
                {"_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.30.0.dev0",
                 "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15,
                 "num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": true}
                """);
        f.put("text_encoder/config.json", """
                {"architectures": ["CLIPTextModel"], "hidden_size": 768, "intermediate_size": 3072,
                 "num_attention_heads": 12, "num_hidden_layers": 12, "max_position_embeddings": 77,
                 "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05, "vocab_size": 49408, "torch_dtype": "bfloat16"}
                """);
        f.put("text_encoder/model.safetensors", "clip weights");
        f.put("text_encoder_2/config.json", """
                {"architectures": ["T5EncoderModel"], "d_model": 4096, "d_ff": 10240, "d_kv": 64, "num_heads": 64,
                 "num_layers": 24, "feed_forward_proj": "gated-gelu", "vocab_size": 32128, "torch_dtype": "bfloat16"}
                """);
        f.put("text_encoder_2/model.safetensors.index.json", """
                {"metadata": {"total_size": 9524621312},
                 "weight_map": {"encoder.block.0.layer.0.SelfAttention.k.weight": "model-00001-of-00002.safetensors",
                                "encoder.block.23.layer.1.DenseReluDense.wo.weight": "model-00002-of-00002.safetensors",
                                "shared.weight": "model-00001-of-00002.safetensors"}}
                """);
        f.put("text_encoder_2/model-00001-of-00002.safetensors", "t5 shard 1");
        f.put("text_encoder_2/model-00002-of-00002.safetensors", "t5 shard 2");
        f.put("tokenizer/merges.txt", "#version: 0.2\ni n\n");
        f.put("tokenizer/special_tokens_map.json", "{}");
        f.put("tokenizer/tokenizer_config.json", "{\"model_max_length\": 77}");
        f.put("tokenizer/vocab.json", "{\"!\": 0}");
        f.put("tokenizer_2/special_tokens_map.json", "{}");
        f.put("tokenizer_2/spiece.model", "sentencepiece");
        f.put("tokenizer_2/tokenizer.json", "{}");
        f.put("tokenizer_2/tokenizer_config.json", "{\"model_max_length\": 512}");
        f.put("transformer/config.json", """
                {"_class_name": "FluxTransformer2DModel", "attention_head_dim": 128, "guidance_embeds": true,
                 "in_channels": 64, "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 19,
                 "num_single_layers": 38, "patch_size": 1, "pooled_projection_dim": 768}
                """);
        f.put("vae/config.json", """
                {"_class_name": "AutoencoderKL", "block_out_channels": [128, 256, 512, 512], "in_channels": 3,
                 "latent_channels": 16, "scaling_factor": 0.3611, "shift_factor": 0.1159,
                 "use_post_quant_conv": false, "use_quant_conv": false}
                """);
        f.put("vae/diffusion_pytorch_model.safetensors", "vae weights");
        return f;
    }

    /** A plain folder at {@code root}. */
    static Path writeFolder(Path root) throws IOException {
        for (Map.Entry<String, String> e : files().entrySet()) {
            write(root.resolve(e.getKey()), e.getValue());
        }
        return root;
    }

    /**
     * A cache entry under {@code hub}: blobs named by content hash, {@code refs/main} holding
     * {@link #COMMIT}, and {@code snapshots/COMMIT/...} of relative symbolic links, as
     * huggingface_hub writes them.
     *
     * @return the snapshot folder
     */
    static Path writeCache(Path hub) throws IOException {
        Path repo = hub.resolve("models--black-forest-labs--FLUX.1-dev");
        Path snapshot = repo.resolve("snapshots").resolve(COMMIT);
        for (Map.Entry<String, String> e : files().entrySet()) {
            String sha = sha256(e.getValue());
            write(repo.resolve("blobs").resolve(sha), e.getValue());
            Path link = snapshot.resolve(e.getKey());
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(
                    link, link.getParent().relativize(repo.resolve("blobs").resolve(sha)));
        }
        write(repo.resolve("refs/main"), COMMIT); // no trailing newline, as huggingface_hub writes it
        return snapshot;
    }

    static void write(Path p, String content) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, content, StandardCharsets.UTF_8);
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
