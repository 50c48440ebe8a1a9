package io.github.flux4j.core.weights.source;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The map between diffusers' {@code FluxTransformer2DModel} parameter names and BFL's, the
 * inverse of diffusers' {@code convert_flux_transformer_checkpoint_to_diffusers}.
 *
 * <p>Some BFL tensors are several diffusers tensors joined along dim 0 (the output rows):
 * {@code double_blocks.i.img_attn.qkv} = rows of {@code to_q}, {@code to_k}, {@code to_v};
 * {@code single_blocks.i.linear1} = rows of {@code to_q}, {@code to_k}, {@code to_v},
 * {@code proj_mlp}. {@code final_layer.adaLN_modulation.1} is diffusers' {@code norm_out.linear}
 * with its two halves swapped (diffusers orders them scale, shift; BFL shift, scale). The
 * qk-norm weights are BFL's {@code .scale}.
 */
public final class DiffusersNames {

    /**
     * Where a diffusers tensor goes.
     *
     * @param bflName    the BFL tensor it is (part of)
     * @param part       its index among the parts joined along dim 0
     * @param parts      how many parts the BFL tensor is joined from (1: the tensor itself)
     * @param swapHalves true if the BFL tensor is this one with its two row halves swapped
     */
    public record Target(String bflName, int part, int parts, boolean swapHalves) {}

    private record Rule(
            Pattern diffusers,
            String diffusersTemplate,
            Pattern bfl,
            String bflTemplate,
            int part,
            int parts,
            boolean norm,
            boolean swap) {}

    private static final List<Rule> RULES = new ArrayList<>();

    static {
        rule("x_embedder", "img_in");
        rule("context_embedder", "txt_in");
        rule("time_text_embed.timestep_embedder.linear_1", "time_in.in_layer");
        rule("time_text_embed.timestep_embedder.linear_2", "time_in.out_layer");
        rule("time_text_embed.text_embedder.linear_1", "vector_in.in_layer");
        rule("time_text_embed.text_embedder.linear_2", "vector_in.out_layer");
        rule("time_text_embed.guidance_embedder.linear_1", "guidance_in.in_layer");
        rule("time_text_embed.guidance_embedder.linear_2", "guidance_in.out_layer");

        String d = "transformer_blocks.{i}.";
        String b = "double_blocks.{i}.";
        rule(d + "norm1.linear", b + "img_mod.lin");
        rule(d + "norm1_context.linear", b + "txt_mod.lin");
        part(d + "attn.to_q", b + "img_attn.qkv", 0, 3);
        part(d + "attn.to_k", b + "img_attn.qkv", 1, 3);
        part(d + "attn.to_v", b + "img_attn.qkv", 2, 3);
        part(d + "attn.add_q_proj", b + "txt_attn.qkv", 0, 3);
        part(d + "attn.add_k_proj", b + "txt_attn.qkv", 1, 3);
        part(d + "attn.add_v_proj", b + "txt_attn.qkv", 2, 3);
        norm(d + "attn.norm_q", b + "img_attn.norm.query_norm");
        norm(d + "attn.norm_k", b + "img_attn.norm.key_norm");
        norm(d + "attn.norm_added_q", b + "txt_attn.norm.query_norm");
        norm(d + "attn.norm_added_k", b + "txt_attn.norm.key_norm");
        rule(d + "attn.to_out.0", b + "img_attn.proj");
        rule(d + "attn.to_add_out", b + "txt_attn.proj");
        rule(d + "ff.net.0.proj", b + "img_mlp.0");
        rule(d + "ff.net.2", b + "img_mlp.2");
        rule(d + "ff_context.net.0.proj", b + "txt_mlp.0");
        rule(d + "ff_context.net.2", b + "txt_mlp.2");

        String s = "single_transformer_blocks.{i}.";
        String sb = "single_blocks.{i}.";
        rule(s + "norm.linear", sb + "modulation.lin");
        part(s + "attn.to_q", sb + "linear1", 0, 4);
        part(s + "attn.to_k", sb + "linear1", 1, 4);
        part(s + "attn.to_v", sb + "linear1", 2, 4);
        part(s + "proj_mlp", sb + "linear1", 3, 4);
        norm(s + "attn.norm_q", sb + "norm.query_norm");
        norm(s + "attn.norm_k", sb + "norm.key_norm");
        rule(s + "proj_out", sb + "linear2");

        RULES.add(compile("norm_out.linear", "final_layer.adaLN_modulation.1", 0, 1, false, true));
        rule("proj_out", "final_layer.linear");
    }

    private DiffusersNames() {}

    private static void rule(String diffusers, String bfl) {
        RULES.add(compile(diffusers, bfl, 0, 1, false, false));
    }

    private static void part(String diffusers, String bfl, int part, int parts) {
        RULES.add(compile(diffusers, bfl, part, parts, false, false));
    }

    private static void norm(String diffusers, String bfl) {
        RULES.add(compile(diffusers, bfl, 0, 1, true, false));
    }

    private static Rule compile(String diffusers, String bfl, int part, int parts, boolean norm, boolean swap) {
        return new Rule(pattern(diffusers), diffusers, pattern(bfl), bfl, part, parts, norm, swap);
    }

    private static Pattern pattern(String template) {
        return Pattern.compile(Pattern.quote(template).replace("{i}", "\\E(\\d+)\\Q"));
    }

    /** True if the name looks like a diffusers Flux transformer parameter (as opposed to a BFL one). */
    public static boolean isDiffusersName(String name) {
        return name.startsWith("transformer_blocks.")
                || name.startsWith("single_transformer_blocks.")
                || name.startsWith("x_embedder.")
                || name.startsWith("time_text_embed.")
                || name.startsWith("context_embedder.");
    }

    /** Where the diffusers tensor {@code name} ({@code module.weight} or {@code module.bias}) goes; empty if it is not a known Flux parameter. */
    public static Optional<Target> toBfl(String name) {
        int dot = name.lastIndexOf('.');
        if (dot < 0) {
            return Optional.empty();
        }
        String module = name.substring(0, dot);
        String leaf = name.substring(dot + 1);
        for (Rule r : RULES) {
            Matcher m = r.diffusers.matcher(module);
            if (!m.matches()) {
                continue;
            }
            String bflLeaf;
            if (r.norm) {
                if (!leaf.equals("weight")) {
                    return Optional.empty();
                }
                bflLeaf = "scale";
            } else if (leaf.equals("weight") || leaf.equals("bias")) {
                bflLeaf = leaf;
            } else {
                return Optional.empty();
            }
            String bfl = m.groupCount() > 0 ? r.bflTemplate.replace("{i}", m.group(1)) : r.bflTemplate;
            return Optional.of(new Target(bfl + "." + bflLeaf, r.part, r.parts, r.swap));
        }
        return Optional.empty();
    }

    /**
     * The diffusers tensors the BFL tensor {@code name} is made of, in part order; empty if the
     * name is not a known Flux parameter.
     */
    public static List<String> toDiffusers(String name) {
        int dot = name.lastIndexOf('.');
        if (dot < 0) {
            return List.of();
        }
        String module = name.substring(0, dot);
        String leaf = name.substring(dot + 1);
        List<String> out = new ArrayList<>();
        for (Rule r : RULES) {
            Matcher m = r.bfl.matcher(module);
            if (!m.matches()) {
                continue;
            }
            String diffLeaf;
            if (r.norm) {
                if (!leaf.equals("scale")) {
                    continue;
                }
                diffLeaf = "weight";
            } else if (leaf.equals("weight") || leaf.equals("bias")) {
                diffLeaf = leaf;
            } else {
                continue;
            }
            String diff = m.groupCount() > 0 ? r.diffusersTemplate.replace("{i}", m.group(1)) : r.diffusersTemplate;
            while (out.size() <= r.part) {
                out.add("");
            }
            out.set(r.part, diff + "." + diffLeaf);
        }
        return List.copyOf(out);
    }
}
