package io.github.flux4j.core.vae;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.TableWeightSource;
import io.github.flux4j.core.weights.source.WeightException;
import io.github.flux4j.core.weights.source.WeightFormat;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.gguf.MappedRegions;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * VAE weights under diffusers' {@code AutoencoderKL} names ({@code decoder.up_blocks.0.resnets.1.conv1.weight}),
 * from a diffusers {@code vae/} folder or a single safetensors file with diffusers or BFL
 * ({@code ae.safetensors}: {@code decoder.up.3.block.1.conv1.weight}) names.
 *
 * <p>Only the decoding half is presented: {@code encoder.*} and {@code quant_conv.*} are dropped
 * when the file is opened (they only serve image-to-latent encoding), so a strict binding neither
 * needs nor reports them; {@link #skipped()} counts them. Any other name the decoder does not know
 * is kept as stored, so that a strict binding reports it.
 *
 * <p>BFL names are mapped the way diffusers' {@code convert_ldm_vae_checkpoint} maps them: BFL
 * numbers its up blocks from the highest resolution ({@code up.0} is the last to run), diffusers in
 * run order, so {@code up.N} is {@code up_blocks.(levels-1-N)}; {@code mid.block_1/2} are
 * {@code mid_block.resnets.0/1}; {@code nin_shortcut} is {@code conv_shortcut}; {@code norm_out} is
 * {@code conv_norm_out}; the attention's {@code norm, q, k, v, proj_out} (1x1 convolutions,
 * {@code [C, C, 1, 1]}) are {@code group_norm, to_q, to_k, to_v, to_out.0} (linears, {@code [C, C]}:
 * the same bytes, so only the shape is presented differently).
 */
final class VaeWeightSource extends TableWeightSource<WeightInfo> {
    static final String DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors";
    static final String CONFIG = "config.json";
    /** Prefixes of all-in-one checkpoints (the ones diffusers' single-file loader strips, {@code LDM_VAE_KEYS}). */
    static final List<String> CHECKPOINT_PREFIXES = List.of("first_stage_model.", "vae.");

    private static final Pattern BFL_UP = Pattern.compile("decoder\\.up\\.(\\d+)\\.(block|upsample)\\.(.*)");
    private static final Pattern BFL_MID_BLOCK = Pattern.compile("decoder\\.mid\\.block_(\\d+)\\.(.*)");
    private static final Pattern BFL_ATTN =
            Pattern.compile("decoder\\.mid\\.attn_1\\.(norm|q|k|v|proj_out)\\.(weight|bias)");

    private final SafetensorsFile file;
    private final int skipped;

    private VaeWeightSource(
            WeightFormat format,
            Path path,
            SafetensorsFile file,
            Map<String, Object> config,
            Map<String, WeightInfo> byName,
            Map<String, WeightInfo> entries,
            int skipped) {
        super(format, path, config, byName, entries);
        this.file = file;
        this.skipped = skipped;
    }

    /**
     * Opens a diffusers VAE folder ({@code dir} itself or {@code dir/vae}, holding {@code config.json}
     * and {@code diffusion_pytorch_model.safetensors}) or a safetensors file (diffusers or BFL names,
     * detected from the names; an all-in-one checkpoint's {@code first_stage_model.}/{@code vae.}
     * tensors).
     *
     * @throws FluxIoException if a file cannot be read (the cause a {@link NoSuchFileException}
     *                         if {@code path} does not exist)
     */
    static VaeWeightSource open(Path path) {
        if (Files.isDirectory(path)) {
            Path dir = path;
            if (!Files.exists(dir.resolve(DIFFUSERS_WEIGHTS)) && Files.isDirectory(dir.resolve("vae"))) {
                dir = dir.resolve("vae");
            }
            Path weights = dir.resolve(DIFFUSERS_WEIGHTS);
            if (!Files.isRegularFile(weights)) {
                throw new WeightException(dir + " is not a diffusers VAE folder: it has no " + DIFFUSERS_WEIGHTS
                        + (Files.exists(dir.resolve(DIFFUSERS_WEIGHTS + ".index.json"))
                                ? " (sharded VAE weights are not supported)"
                                : ""));
            }
            Path cfg = dir.resolve(CONFIG);
            if (!Files.isRegularFile(cfg)) {
                throw new WeightException(dir + " is not a diffusers VAE folder: it has no " + CONFIG);
            }
            Map<String, Object> config = readConfig(cfg);
            return of(dir, SafetensorsFile.open(weights), config);
        }
        if (!Files.isRegularFile(path)) {
            throw FluxIoException.of(path, new NoSuchFileException(path.toString()));
        }
        return of(path, SafetensorsFile.open(path), Map.of());
    }

    private static VaeWeightSource of(Path path, SafetensorsFile st, Map<String, Object> config) {
        try {
            String prefix = "";
            for (String p : CHECKPOINT_PREFIXES) {
                if (st.tensors().stream().anyMatch(e -> e.name().startsWith(p + "decoder."))) {
                    prefix = p;
                    break;
                }
            }
            List<WeightInfo> own = new ArrayList<>();
            for (WeightInfo e : st.tensors()) {
                if (e.name().startsWith(prefix)) {
                    own.add(e);
                }
            }
            int cut = prefix.length();
            boolean bfl = own.stream()
                    .map(e -> e.name().substring(cut))
                    .anyMatch(n -> n.startsWith("decoder.up.") || n.startsWith("decoder.mid."));
            int levels = bfl ? bflLevels(own, cut) : 0;
            Map<String, WeightInfo> byName = new LinkedHashMap<>();
            Map<String, WeightInfo> entries = new LinkedHashMap<>();
            int skipped = 0;
            for (WeightInfo e : own) {
                String stored = e.name().substring(cut);
                if (stored.startsWith("encoder.") || stored.startsWith("quant_conv.")) {
                    skipped++; // the encoding half: not needed to decode
                    continue;
                }
                String name = stored;
                long[] shape = e.shape();
                if (bfl) {
                    name = bflToDiffusers(stored, levels);
                    if (!name.equals(stored)
                            && BFL_ATTN.matcher(stored).matches()
                            && shape.length == 4
                            && shape[2] == 1
                            && shape[3] == 1) {
                        shape = new long[] {shape[0], shape[1]}; // 1x1 conv weight read as a linear weight
                    }
                }
                WeightInfo earlier = entries.get(name); // entries and byName share their keys
                if (earlier != null) {
                    throw new WeightException(path + ": tensor " + name + " is stored twice (as " + earlier.name()
                            + " and " + e.name() + ")");
                }
                byName.put(name, e.withName(name).withShape(shape));
                entries.put(name, e);
            }
            WeightFormat format = config.isEmpty() && bfl ? WeightFormat.BFL_SAFETENSORS : WeightFormat.DIFFUSERS;
            return new VaeWeightSource(format, path, st, config, byName, entries, skipped);
        } catch (RuntimeException | Error e) {
            closeAfter(e, List.of(st));
            throw e;
        }
    }

    /** Number of BFL up levels: one more than the highest {@code decoder.up.N}. */
    private static int bflLevels(List<WeightInfo> own, int cut) {
        int max = -1;
        for (WeightInfo e : own) {
            Matcher m = BFL_UP.matcher(e.name().substring(cut));
            if (m.matches()) {
                max = Math.max(max, Integer.parseInt(m.group(1)));
            }
        }
        return max + 1;
    }

    /**
     * The diffusers name of a BFL decoder tensor, or the name itself when it is not one BFL's
     * decoder has ({@code decoder.conv_in}, {@code decoder.conv_out} and {@code post_quant_conv}
     * are named alike in both).
     *
     * @param levels the number of up blocks (BFL {@code up.0} .. {@code up.(levels-1)})
     */
    static String bflToDiffusers(String name, int levels) {
        Matcher up = BFL_UP.matcher(name);
        if (up.matches()) {
            int level = Integer.parseInt(up.group(1));
            if (level >= levels) {
                return name;
            }
            String block = levels - 1 - level + "";
            String rest = up.group(3);
            if (up.group(2).equals("upsample")) {
                return "decoder.up_blocks." + block + ".upsamplers.0." + rest;
            }
            return "decoder.up_blocks." + block + ".resnets." + resnetLeaf(rest);
        }
        Matcher mid = BFL_MID_BLOCK.matcher(name);
        if (mid.matches()) {
            int i = Integer.parseInt(mid.group(1));
            if (i < 1) {
                return name;
            }
            return "decoder.mid_block.resnets." + (i - 1) + "." + resnetLeaf(mid.group(2));
        }
        Matcher attn = BFL_ATTN.matcher(name);
        if (attn.matches()) {
            String layer = switch (attn.group(1)) {
                case "norm" -> "group_norm";
                case "q" -> "to_q";
                case "k" -> "to_k";
                case "v" -> "to_v";
                default -> "to_out.0";
            };
            return "decoder.mid_block.attentions.0." + layer + "." + attn.group(2);
        }
        if (name.startsWith("decoder.norm_out.")) {
            return "decoder.conv_norm_out." + name.substring("decoder.norm_out.".length());
        }
        return name;
    }

    private static String resnetLeaf(String rest) {
        // "nin_shortcut.weight" (mid blocks) or "0.nin_shortcut.weight" (up blocks)
        return rest.replace("nin_shortcut.", "conv_shortcut.");
    }

    /** Number of stored tensors dropped as the encoding half ({@code encoder.*}, {@code quant_conv.*}). */
    int skipped() {
        return skipped;
    }

    // ---------------------------------------------------------------------------------- WeightSource

    @Override
    public ByteBuffer read(WeightInfo tensor) {
        return file.data(own(tensor));
    }

    @Override
    public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
        return file.data(own(tensor), offsetInTensor, length);
    }

    /** Unmaps the buffer now: each read maps its region anew, so nothing else uses it. */
    @Override
    public boolean release(ByteBuffer buffer) {
        return MappedRegions.unmap(buffer);
    }

    @Override
    public void close() {
        file.close();
    }

    @Override
    public String toString() {
        return "VAE " + format() + " " + path();
    }
}
