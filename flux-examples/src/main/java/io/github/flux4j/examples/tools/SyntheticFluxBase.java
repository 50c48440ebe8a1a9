package io.github.flux4j.examples.tools;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.flux4j.examples.FileTrees;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Writes a FLUX.1-dev <b>base model folder</b> with <b>random weights</b> but the real layout,
 * file names, configurations, tensor names, shapes and dtypes (bf16) of
 * {@code black-forest-labs/FLUX.1-dev}: CLIP-L ({@code text_encoder/model.safetensors}, 246 MB),
 * T5-XXL v1.1's encoder ({@code text_encoder_2/}, two shards and {@code model.safetensors.index.json},
 * 9.5 GB), the VAE ({@code vae/diffusion_pytorch_model.safetensors}, encoder and decoder, 168 MB),
 * the scheduler, {@code model_index.json} and tokenizers in the real formats (CLIP BPE
 * {@code vocab.json}/{@code merges.txt}, T5 Unigram {@code tokenizer.json}) with the demo model's
 * small vocabularies. With a synthetic transformer GGUF ({@link SyntheticFluxGguf}) the whole
 * pipeline runs at full scale without the gated weights: for memory modes and benchmarks. There is
 * no {@code transformer/} folder: the GGUF stands in for it.
 *
 * <p>Values: every tensor is cut into chunks of 2 Mi elements, each filled from its own splitmix64
 * stream seeded from (seed, file, tensor name, chunk index), uniform, rounded to bf16 (round to
 * nearest even): weights with standard deviation {@code 1/sqrt(fan_in)}, embeddings 0.02 x ...,
 * normalization weights 1 +- 0.1, biases +-0.02. Chunks are made in parallel and written in order
 * straight to the file (a few chunks per thread in memory, whatever the tensor size), each file
 * under a temporary name moved into place when complete; the folder is written under a temporary
 * name too, and renamed last: a failure leaves no half-written folder.
 *
 * <pre>{@code
 * SyntheticFluxBase.write(Path.of("/data/flux-dev-synthetic"), SyntheticFluxBase.Spec.fluxDev(), 0, threads);
 * }</pre>
 *
 * <p>CLI: {@code synthetic-base [--size dev|tiny] [--clip-layers N] [--t5-layers N] [--seed N] OUT_DIR}.
 */
@Command(
        name = "synthetic-base",
        mixinStandardHelpOptions = true,
        version = "synthetic-base (flux4j)",
        description = "Writes a FLUX.1-dev base model folder (diffusers layout: CLIP-L, T5-XXL, VAE, scheduler,"
                + " tokenizers) with random bf16 weights and the real names, shapes and configs.")
public final class SyntheticFluxBase implements Callable<Integer> {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final int CHUNK = 1 << 21; // elements per generated chunk (4 MiB of bf16)
    private static final String DEMO = "/io/github/flux4j/examples/demo/model/";
    private static final List<String> COPIED = List.of(
            "model_index.json",
            "scheduler/scheduler_config.json",
            "tokenizer/vocab.json",
            "tokenizer/merges.txt",
            "tokenizer/tokenizer_config.json",
            "tokenizer/special_tokens_map.json",
            "tokenizer_2/tokenizer.json",
            "tokenizer_2/tokenizer_config.json",
            "tokenizer_2/special_tokens_map.json");

    /**
     * CLIP text model sizes ({@code CLIPTextConfig}).
     *
     * @param vocab     {@code vocab_size}
     * @param positions {@code max_position_embeddings}
     * @param hidden    {@code hidden_size}
     * @param mlp       {@code intermediate_size}
     * @param layers    {@code num_hidden_layers}
     * @param heads     {@code num_attention_heads}
     */
    public record Clip(int vocab, int positions, int hidden, int mlp, int layers, int heads) {}

    /**
     * T5 encoder sizes ({@code T5Config}).
     *
     * @param vocab   {@code vocab_size}
     * @param dModel  {@code d_model}
     * @param dKv     {@code d_kv}
     * @param dFf     {@code d_ff}
     * @param layers  {@code num_layers}
     * @param heads   {@code num_heads}
     * @param buckets {@code relative_attention_num_buckets}
     */
    public record T5(int vocab, int dModel, int dKv, int dFf, int layers, int heads, int buckets) {}

    /**
     * AutoencoderKL sizes.
     *
     * @param blockOut       {@code block_out_channels}
     * @param layersPerBlock {@code layers_per_block}
     * @param latent         {@code latent_channels}
     * @param groups         {@code norm_num_groups}
     */
    public record Vae(int[] blockOut, int layersPerBlock, int latent, int groups) {
        /** Copies. */
        public Vae {
            blockOut = blockOut.clone();
        }

        @Override
        public int[] blockOut() {
            return blockOut.clone();
        }
    }

    /**
     * A whole base folder's sizes.
     *
     * @param clip          CLIP-L
     * @param t5            the T5 encoder
     * @param vae           the VAE
     * @param t5ShardBytes  the most bytes per T5 shard (transformers' {@code max_shard_size}, 5 GB)
     */
    public record Spec(Clip clip, T5 t5, Vae vae, long t5ShardBytes) {
        /** FLUX.1-dev's: CLIP-L, T5-XXL v1.1, the 16-channel VAE; T5 in two shards. */
        public static Spec fluxDev() {
            return new Spec(
                    new Clip(49408, 77, 768, 3072, 12, 12),
                    new T5(32128, 4096, 64, 10240, 24, 64, 32),
                    new Vae(new int[] {128, 256, 512, 512}, 2, 16, 32),
                    5_000_000_000L);
        }

        /**
         * A small spec for tests, sized to fit {@link SyntheticFluxGguf#tiny()} (context 128, pooled
         * vector 96) and the demo tokenizers' vocabularies; T5 still in two shards, one block each.
         */
        public static Spec tiny() {
            return new Spec(
                    new Clip(1851, 77, 96, 128, 1, 4),
                    new T5(1100, 128, 32, 96, 2, 2, 32),
                    new Vae(new int[] {8, 8, 16, 16}, 1, 16, 4),
                    300_000L);
        }

        /** This spec with {@code clipLayers} CLIP layers and {@code t5Layers} T5 blocks (full widths, fewer layers). */
        public Spec withLayers(int clipLayers, int t5Layers) {
            if (clipLayers < 1 || t5Layers < 1) {
                throw new IllegalArgumentException("layers must be >= 1, got CLIP " + clipLayers + ", T5 " + t5Layers);
            }
            return new Spec(
                    new Clip(clip.vocab, clip.positions, clip.hidden, clip.mlp, clipLayers, clip.heads),
                    new T5(t5.vocab, t5.dModel, t5.dKv, t5.dFf, t5Layers, t5.heads, t5.buckets),
                    vae,
                    t5ShardBytes);
        }
    }

    /** One tensor: name and shape (every tensor is bf16). */
    public record Tensor(String name, long[] shape) {
        /** Copies. */
        public Tensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Elements. */
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        /** Bytes in bf16. */
        public long bytes() {
            return 2 * numel();
        }
    }

    // ------------------------------------------------------------------------------ tensor tables

    /** transformers' {@code CLIPTextModel} state dict (FLUX.1-dev's {@code text_encoder/model.safetensors}). */
    public static List<Tensor> clipTensors(Clip c) {
        List<Tensor> out = new ArrayList<>();
        String p = "text_model.";
        out.add(new Tensor(p + "embeddings.token_embedding.weight", new long[] {c.vocab, c.hidden}));
        out.add(new Tensor(p + "embeddings.position_embedding.weight", new long[] {c.positions, c.hidden}));
        for (int i = 0; i < c.layers; i++) {
            String l = p + "encoder.layers." + i + ".";
            for (String proj : List.of("k_proj", "v_proj", "q_proj", "out_proj")) {
                linear(out, l + "self_attn." + proj, c.hidden, c.hidden);
            }
            norm(out, l + "layer_norm1", c.hidden, true);
            linear(out, l + "mlp.fc1", c.mlp, c.hidden);
            linear(out, l + "mlp.fc2", c.hidden, c.mlp);
            norm(out, l + "layer_norm2", c.hidden, true);
        }
        norm(out, p + "final_layer_norm", c.hidden, true);
        return out;
    }

    /**
     * transformers' {@code T5EncoderModel} state dict as saved (the tied {@code encoder.embed_tokens}
     * is not stored; {@code shared.weight} is): FLUX.1-dev's {@code text_encoder_2}.
     */
    public static List<Tensor> t5Tensors(T5 t) {
        List<Tensor> out = new ArrayList<>();
        long inner = (long) t.heads * t.dKv;
        out.add(new Tensor("shared.weight", new long[] {t.vocab, t.dModel}));
        for (int i = 0; i < t.layers; i++) {
            String b = "encoder.block." + i + ".layer.";
            for (String w : List.of("q", "k", "v")) {
                out.add(new Tensor(b + "0.SelfAttention." + w + ".weight", new long[] {inner, t.dModel}));
            }
            out.add(new Tensor(b + "0.SelfAttention.o.weight", new long[] {t.dModel, inner}));
            if (i == 0) {
                out.add(new Tensor(
                        b + "0.SelfAttention.relative_attention_bias.weight", new long[] {t.buckets, t.heads}));
            }
            out.add(new Tensor(b + "0.layer_norm.weight", new long[] {t.dModel}));
            out.add(new Tensor(b + "1.DenseReluDense.wi_0.weight", new long[] {t.dFf, t.dModel}));
            out.add(new Tensor(b + "1.DenseReluDense.wi_1.weight", new long[] {t.dFf, t.dModel}));
            out.add(new Tensor(b + "1.DenseReluDense.wo.weight", new long[] {t.dModel, t.dFf}));
            out.add(new Tensor(b + "1.layer_norm.weight", new long[] {t.dModel}));
        }
        out.add(new Tensor("encoder.final_layer_norm.weight", new long[] {t.dModel}));
        return out;
    }

    /**
     * diffusers' {@code AutoencoderKL} state dict without quant convolutions (FLUX.1's VAE has
     * {@code use_quant_conv} and {@code use_post_quant_conv} false): encoder and decoder.
     */
    public static List<Tensor> vaeTensors(Vae v) {
        List<Tensor> out = new ArrayList<>();
        int[] ch = v.blockOut;
        int top = ch[ch.length - 1];
        // encoder
        conv(out, "encoder.conv_in", ch[0], 3, 3);
        int prev = ch[0];
        for (int i = 0; i < ch.length; i++) {
            String b = "encoder.down_blocks." + i + ".";
            for (int j = 0; j < v.layersPerBlock; j++) {
                resnet(out, b + "resnets." + j, j == 0 ? prev : ch[i], ch[i]);
            }
            if (i < ch.length - 1) {
                conv(out, b + "downsamplers.0.conv", ch[i], ch[i], 3);
            }
            prev = ch[i];
        }
        midBlock(out, "encoder.mid_block", top);
        norm(out, "encoder.conv_norm_out", top, true);
        conv(out, "encoder.conv_out", 2 * v.latent, top, 3);
        // decoder
        conv(out, "decoder.conv_in", top, v.latent, 3);
        midBlock(out, "decoder.mid_block", top);
        prev = top;
        for (int i = 0; i < ch.length; i++) {
            int c = ch[ch.length - 1 - i];
            String b = "decoder.up_blocks." + i + ".";
            for (int j = 0; j < v.layersPerBlock + 1; j++) {
                resnet(out, b + "resnets." + j, j == 0 ? prev : c, c);
            }
            if (i < ch.length - 1) {
                conv(out, b + "upsamplers.0.conv", c, c, 3);
            }
            prev = c;
        }
        norm(out, "decoder.conv_norm_out", ch[0], true);
        conv(out, "decoder.conv_out", 3, ch[0], 3);
        return out;
    }

    private static void midBlock(List<Tensor> out, String p, int c) {
        resnet(out, p + ".resnets.0", c, c);
        norm(out, p + ".attentions.0.group_norm", c, true);
        linear(out, p + ".attentions.0.to_q", c, c);
        linear(out, p + ".attentions.0.to_k", c, c);
        linear(out, p + ".attentions.0.to_v", c, c);
        linear(out, p + ".attentions.0.to_out.0", c, c);
        resnet(out, p + ".resnets.1", c, c);
    }

    private static void resnet(List<Tensor> out, String p, int in, int c) {
        norm(out, p + ".norm1", in, true);
        conv(out, p + ".conv1", c, in, 3);
        norm(out, p + ".norm2", c, true);
        conv(out, p + ".conv2", c, c, 3);
        if (in != c) {
            conv(out, p + ".conv_shortcut", c, in, 1);
        }
    }

    private static void linear(List<Tensor> out, String p, long outF, long inF) {
        out.add(new Tensor(p + ".weight", new long[] {outF, inF}));
        out.add(new Tensor(p + ".bias", new long[] {outF}));
    }

    private static void conv(List<Tensor> out, String p, long outC, long inC, int k) {
        out.add(new Tensor(p + ".weight", new long[] {outC, inC, k, k}));
        out.add(new Tensor(p + ".bias", new long[] {outC}));
    }

    private static void norm(List<Tensor> out, String p, long n, boolean bias) {
        out.add(new Tensor(p + ".weight", new long[] {n}));
        if (bias) {
            out.add(new Tensor(p + ".bias", new long[] {n}));
        }
    }

    // ------------------------------------------------------------------------------ configs

    static Map<String, Object> clipConfig(Clip c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_name_or_path", "openai/clip-vit-large-patch14");
        m.put("architectures", List.of("CLIPTextModel"));
        m.put("attention_dropout", 0.0);
        m.put("bos_token_id", 0);
        m.put("dropout", 0.0);
        m.put("eos_token_id", 2);
        m.put("hidden_act", "quick_gelu");
        m.put("hidden_size", c.hidden);
        m.put("initializer_factor", 1.0);
        m.put("initializer_range", 0.02);
        m.put("intermediate_size", c.mlp);
        m.put("layer_norm_eps", 1e-05);
        m.put("max_position_embeddings", c.positions);
        m.put("model_type", "clip_text_model");
        m.put("num_attention_heads", c.heads);
        m.put("num_hidden_layers", c.layers);
        m.put("pad_token_id", 1);
        m.put("projection_dim", c.hidden);
        m.put("torch_dtype", "bfloat16");
        m.put("transformers_version", "4.43.3");
        m.put("vocab_size", c.vocab);
        return m;
    }

    static Map<String, Object> t5Config(T5 t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_name_or_path", "google/t5-v1_1-xxl");
        m.put("architectures", List.of("T5EncoderModel"));
        m.put("classifier_dropout", 0.0);
        m.put("d_ff", t.dFf);
        m.put("d_kv", t.dKv);
        m.put("d_model", t.dModel);
        m.put("decoder_start_token_id", 0);
        m.put("dense_act_fn", "gelu_new");
        m.put("dropout_rate", 0.1);
        m.put("eos_token_id", 1);
        m.put("feed_forward_proj", "gated-gelu");
        m.put("initializer_factor", 1.0);
        m.put("is_encoder_decoder", true);
        m.put("is_gated_act", true);
        m.put("layer_norm_epsilon", 1e-06);
        m.put("model_type", "t5");
        m.put("num_decoder_layers", t.layers);
        m.put("num_heads", t.heads);
        m.put("num_layers", t.layers);
        m.put("output_past", true);
        m.put("pad_token_id", 0);
        m.put("relative_attention_max_distance", 128);
        m.put("relative_attention_num_buckets", t.buckets);
        m.put("tie_word_embeddings", false);
        m.put("torch_dtype", "bfloat16");
        m.put("transformers_version", "4.43.3");
        m.put("use_cache", true);
        m.put("vocab_size", t.vocab);
        return m;
    }

    static Map<String, Object> vaeConfig(Vae v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_class_name", "AutoencoderKL");
        m.put("_diffusers_version", "0.30.0.dev0");
        m.put("act_fn", "silu");
        List<Integer> ch = new ArrayList<>();
        for (int c : v.blockOut) {
            ch.add(c);
        }
        m.put("block_out_channels", ch);
        m.put("down_block_types", java.util.Collections.nCopies(ch.size(), "DownEncoderBlock2D"));
        m.put("force_upcast", true);
        m.put("in_channels", 3);
        m.put("latent_channels", v.latent);
        m.put("latents_mean", null);
        m.put("latents_std", null);
        m.put("layers_per_block", v.layersPerBlock);
        m.put("mid_block_add_attention", true);
        m.put("norm_num_groups", v.groups);
        m.put("out_channels", 3);
        m.put("sample_size", 1024);
        m.put("scaling_factor", 0.3611);
        m.put("shift_factor", 0.1159);
        m.put("up_block_types", java.util.Collections.nCopies(ch.size(), "UpDecoderBlock2D"));
        m.put("use_post_quant_conv", false);
        m.put("use_quant_conv", false);
        return m;
    }

    // ------------------------------------------------------------------------------ writing

    /**
     * What was written.
     *
     * @param root  the folder
     * @param bytes bytes of weights written
     * @param files weight files written
     */
    public record Summary(Path root, long bytes, int files) {}

    /**
     * Writes the folder {@code target}, which must not exist yet.
     *
     * @param seed    mixed into every tensor's stream
     * @param threads generator threads (>= 1); the files do not depend on it
     * @throws IOException if {@code target} exists, its parent is missing, or writing fails (then
     *                     nothing is left behind)
     */
    public static Summary write(Path target, Spec spec, long seed, int threads) throws IOException {
        return write(target, spec, seed, threads, true);
    }

    /**
     * {@link #write}, or with {@code withData} false the same folder whose safetensors files have
     * their headers but no data: the data region is a hole (a sparse file, reading as zeros), so a
     * full-size layout costs no time and no disk. For checking the tensor tables against loaders.
     */
    public static Summary write(Path target, Spec spec, long seed, int threads, boolean withData) throws IOException {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(spec, "spec");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        if (Files.exists(target)) {
            throw new IOException(target + " exists already; give a new folder");
        }
        Path parent = target.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IOException("cannot write " + target + ": no such folder " + parent);
        }
        Path tmp = Files.createTempDirectory(parent, "." + target.getFileName() + ".partial-");
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "synthetic-base");
            t.setDaemon(true);
            return t;
        });
        try {
            for (String f : COPIED) {
                copyResource(f, tmp.resolve(f));
            }
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            Files.createDirectories(tmp.resolve("text_encoder"));
            Files.createDirectories(tmp.resolve("text_encoder_2"));
            Files.createDirectories(tmp.resolve("vae"));
            json.writeValue(tmp.resolve("text_encoder/config.json").toFile(), clipConfig(spec.clip()));
            json.writeValue(tmp.resolve("text_encoder_2/config.json").toFile(), t5Config(spec.t5()));
            json.writeValue(tmp.resolve("vae/config.json").toFile(), vaeConfig(spec.vae()));
            long bytes = 0;
            int files = 0;
            bytes += writeSafetensors(
                    tmp.resolve("text_encoder/model.safetensors"),
                    "text_encoder",
                    clipTensors(spec.clip()),
                    seed,
                    pool,
                    withData);
            files++;
            bytes += writeSafetensors(
                    tmp.resolve("vae/diffusion_pytorch_model.safetensors"),
                    "vae",
                    vaeTensors(spec.vae()),
                    seed,
                    pool,
                    withData);
            files++;
            List<List<Tensor>> shards = shard(t5Tensors(spec.t5()), spec.t5ShardBytes());
            Map<String, String> weightMap = new TreeMap<>();
            long t5Bytes = 0;
            for (int i = 0; i < shards.size(); i++) {
                String name = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
                t5Bytes += writeSafetensors(
                        tmp.resolve("text_encoder_2").resolve(name),
                        "text_encoder_2",
                        shards.get(i),
                        seed,
                        pool,
                        withData);
                files++;
                for (Tensor t : shards.get(i)) {
                    weightMap.put(t.name(), name);
                }
            }
            Map<String, Object> index = new LinkedHashMap<>();
            index.put("metadata", Map.of("total_size", t5Bytes));
            index.put("weight_map", weightMap);
            json.writeValue(
                    tmp.resolve("text_encoder_2/model.safetensors.index.json").toFile(), index);
            bytes += t5Bytes;
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target);
            }
            return new Summary(target, bytes, files);
        } catch (IOException | RuntimeException | Error e) {
            deleteTree(tmp, e);
            throw e;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Consecutive groups of at most {@code maxBytes} (a larger tensor gets a shard of its own). */
    static List<List<Tensor>> shard(List<Tensor> tensors, long maxBytes) {
        List<List<Tensor>> out = new ArrayList<>();
        List<Tensor> current = new ArrayList<>();
        long size = 0;
        for (Tensor t : tensors) {
            if (!current.isEmpty() && size + t.bytes() > maxBytes) {
                out.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += t.bytes();
        }
        if (!current.isEmpty()) {
            out.add(current);
        }
        return out;
    }

    private static void copyResource(String name, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        try (InputStream in = SyntheticFluxBase.class.getResourceAsStream(DEMO + name)) {
            if (in == null) {
                throw new IOException("resource " + DEMO + name + " is missing from the flux-examples jar");
            }
            Files.copy(in, to);
        }
    }

    /** Writes one bf16 safetensors file, streaming the generated chunks; returns its data bytes. */
    private static long writeSafetensors(
            Path file, String component, List<Tensor> tensors, long seed, ExecutorService pool, boolean withData)
            throws IOException {
        // header: tensors in the given order, contiguous
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long offset = 0;
        for (Tensor t : tensors) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("dtype", "BF16");
            List<Long> shape = new ArrayList<>();
            for (long d : t.shape) {
                shape.add(d);
            }
            e.put("shape", shape);
            e.put("data_offsets", List.of(offset, offset + t.bytes()));
            header.put(t.name(), e);
            offset += t.bytes();
        }
        byte[] h = new ObjectMapper().writeValueAsBytes(header);
        int padded = (h.length + 7) / 8 * 8; // data starts 8-byte aligned, as safetensors writes it
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(h);
        while (head.position() < head.capacity()) {
            head.put((byte) ' ');
        }
        head.flip();
        Path tmp = file.resolveSibling(file.getFileName() + ".partial");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(ch, head);
            if (!withData) {
                if (offset > 0) { // the last byte, so that the file has its full size; the rest is a hole
                    ch.write(ByteBuffer.allocate(1), head.capacity() + offset - 1);
                }
                ch.force(false);
            } else {
                // a bounded window of chunks in flight, written in order
                int window = 4 * Math.max(1, ((java.util.concurrent.ThreadPoolExecutor) pool).getMaximumPoolSize());
                ArrayDeque<Future<ByteBuffer>> inFlight = new ArrayDeque<>();
                for (Tensor t : tensors) {
                    long n = t.numel();
                    long chunks = (n + CHUNK - 1) / CHUNK;
                    for (long c = 0; c < chunks; c++) {
                        long start = c * CHUNK;
                        int len = (int) Math.min(CHUNK, n - start);
                        long chunk = c;
                        inFlight.add(pool.submit(() -> chunk(component, t, chunk, len, seed)));
                        if (inFlight.size() >= window) {
                            writeFully(ch, take(inFlight.poll()));
                        }
                    }
                }
                while (!inFlight.isEmpty()) {
                    writeFully(ch, take(inFlight.poll()));
                }
                ch.force(false);
            }
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        return offset;
    }

    private static ByteBuffer take(Future<ByteBuffer> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while generating weights", e);
        } catch (ExecutionException e) {
            throw new IOException("generating weights failed: " + e.getCause(), e.getCause());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /**
     * Chunk {@code index} of tensor {@code t}: {@code len} bf16 values from splitmix64 seeded
     * by (seed, component, name, index), uniform in [-a, a) (+1 for normalization weights).
     */
    static ByteBuffer chunk(String component, Tensor t, long index, int len, long seed) {
        String name = t.name();
        long[] shape = t.shape;
        boolean isNorm = name.contains("norm") && name.endsWith(".weight") && shape.length == 1;
        boolean isBias = name.endsWith(".bias");
        float scale;
        float offset = 0f;
        if (isNorm) {
            scale = 0.1f;
            offset = 1f;
        } else if (isBias) {
            scale = 0.02f;
        } else if (name.contains("embed") || name.equals("shared.weight") || name.contains("relative_attention_bias")) {
            scale = 0.5f; // embeddings: spread enough that tokens differ
        } else {
            long fanIn = 1;
            for (int i = 1; i < shape.length; i++) {
                fanIn *= shape[i];
            }
            scale = (float) Math.sqrt(3.0 / fanIn); // uniform with standard deviation 1/sqrt(fan_in)
        }
        ByteBuffer out = ByteBuffer.allocate(2 * len).order(ByteOrder.LITTLE_ENDIAN);
        long state = fnv1a64(component + "/" + name) ^ seed ^ (index * GOLDEN);
        int i = 0;
        while (i < len) {
            state += GOLDEN;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            // two 24-bit uniforms per output
            out.putShort(bf16(((z >>> 40) * 0x1p-23f - 1f) * scale + offset));
            i++;
            if (i < len) {
                out.putShort(bf16((((z >>> 16) & 0xFFFFFF) * 0x1p-23f - 1f) * scale + offset));
                i++;
            }
        }
        out.flip();
        return out;
    }

    /** float32 to bfloat16 bits, rounding to nearest even (the values are finite). */
    static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return (short) (bits >>> 16);
    }

    static long fnv1a64(String s) {
        long h = 0xCBF29CE484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001B3L;
        }
        return h;
    }

    private static void deleteTree(Path dir, Throwable failure) {
        try {
            FileTrees.deleteTree(dir);
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    // ------------------------------------------------------------------------------ command line

    @Option(
            names = "--size",
            description = "dev (default: FLUX.1-dev's real sizes, ~10 GB) or tiny (for tests: fits"
                    + " synthetic-gguf --config tiny).")
    private String size = "dev";

    @Option(names = "--clip-layers", paramLabel = "N", description = "CLIP layers (default: the size's; 12 for dev).")
    private @Nullable Integer clipLayers;

    @Option(names = "--t5-layers", paramLabel = "N", description = "T5 blocks (default: the size's; 24 for dev).")
    private @Nullable Integer t5Layers;

    @Option(names = "--seed", paramLabel = "N", description = "Seed mixed into every tensor (default 0).")
    private long seed;

    @Option(names = "--threads", paramLabel = "N", description = "Generator threads (default: all processors).")
    private int threads = Runtime.getRuntime().availableProcessors();

    @Parameters(paramLabel = "OUT_DIR", description = "The folder to create (must not exist).")
    private Path out;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec commandSpec;

    @Override
    public Integer call() throws IOException {
        CommandLine cl = commandSpec.commandLine();
        Spec spec = switch (size.toLowerCase(Locale.ROOT)) {
            case "dev" -> Spec.fluxDev();
            case "tiny" -> Spec.tiny();
            default -> throw new CommandLine.ParameterException(cl, "--size: '" + size + "' is not dev or tiny");
        };
        if (clipLayers != null || t5Layers != null) {
            try {
                spec = spec.withLayers(
                        clipLayers != null ? clipLayers : spec.clip().layers(),
                        t5Layers != null ? t5Layers : spec.t5().layers());
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, e.getMessage());
            }
        }
        if (threads < 1) {
            throw new CommandLine.ParameterException(cl, "--threads: must be >= 1, got " + threads);
        }
        long t0 = System.nanoTime();
        Summary s = write(out, spec, seed, threads);
        PrintWriter pw = cl.getOut();
        double secs = (System.nanoTime() - t0) / 1e9;
        pw.printf(
                Locale.ROOT,
                "Wrote %s: %d weight files, %.2f GB in %.1f s (%.2f GB/s)%n",
                s.root(),
                s.files(),
                s.bytes() / 1e9,
                secs,
                s.bytes() / 1e9 / secs);
        return 0;
    }

    /** Runs the command-line tool. */
    public static void main(String[] args) {
        io.github.flux4j.examples.Main.configureNativeMemory();
        System.exit(new CommandLine(new SyntheticFluxBase()).execute(args));
    }
}
