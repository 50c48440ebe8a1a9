package io.github.flux4j.core.transformer;

import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.weights.binding.WeightPath;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * A double-stream (MM-DiT) block: image and text tokens keep their own weights but attend jointly
 * (BFL {@code DoubleStreamBlock}, diffusers {@code FluxTransformerBlock}).
 *
 * <pre>
 * img_mod, txt_mod = Modulation(vec)                        // 2 x (shift, scale, gate) each
 * q, k, v = cat(txt_attn.qkv(mod1(LN(txt))), img_attn.qkv(mod1(LN(img))))   // text first
 * a = SDPA(rope(q), rope(k), v);  a_txt, a_img = split(a)
 * img += gate1 * img_attn.proj(a_img);  img += gate2 * img_mlp(mod2(LN(img)))
 * txt += gate1 * txt_attn.proj(a_txt);  txt += gate2 * txt_mlp(mod2(LN(txt)))
 * </pre>
 */
final class DoubleStreamBlock {
    private final Modulation imgMod; // img_mod.lin [6h, h]
    private final SelfAttention imgAttn; // img_attn.{qkv, norm, proj}
    private final Mlp imgMlp; // img_mlp.{0, 2}
    private final Modulation txtMod; // txt_mod.lin [6h, h]
    private final SelfAttention txtAttn; // txt_attn.{qkv, norm, proj}
    private final Mlp txtMlp; // txt_mlp.{0, 2}
    private final boolean clipF16;
    private final FluxOps ops;

    DoubleStreamBlock(FluxConfig c, WeightPath w) {
        this.imgMod = new Modulation(w.at("img_mod"), c.hiddenSize(), true);
        this.imgAttn = new SelfAttention(c, w.at("img_attn"));
        this.imgMlp = new Mlp(c, w.at("img_mlp"));
        this.txtMod = new Modulation(w.at("txt_mod"), c.hiddenSize(), true);
        this.txtAttn = new SelfAttention(c, w.at("txt_attn"));
        this.txtMlp = new Mlp(c, w.at("txt_mlp"));
        this.clipF16 = w.dtype() == ComputeDtype.F16;
        this.ops = new FluxOps(w.expansion().kernels());
    }

    /**
     * Returns {img, txt}: {@code img [B, Simg, h]}, {@code txt [B, Stxt, h]}; {@code siluVec} is
     * {@code silu(vec)}, the modulations' input.
     */
    Tensor[] forward(Tensor img, Tensor txt, Tensor siluVec, EmbedNd.Rope pe) {
        Modulation.Out[] im = imgMod.forward(siluVec);
        Modulation.Out[] tm = txtMod.forward(siluVec);

        Tensor img0 = img;
        Tensor txt0 = txt;
        // q, k, v and the modulated inputs are freed as soon as the attention is computed (an
        // inner scope), so they do not sit beside the MLPs' activations and expanded weights.
        Tensor attn = Scopes.scoped(() -> {
            Tensor[] iqkv = imgAttn.qkvRaw(ops.modulatedLayerNorm(img0, im[0].shift(), im[0].scale()));
            Tensor[] tqkv = txtAttn.qkvRaw(ops.modulatedLayerNorm(txt0, tm[0].shift(), tm[0].scale()));
            // QK norm per stream, then RoPE over the joint [txt | img] sequence (one kernel per part on CUDA)
            Tensor q = ops.normRopeJoint(
                    new Tensor[] {tqkv[0], iqkv[0]},
                    new Tensor[] {txtAttn.norm().queryScale(), imgAttn.norm().queryScale()},
                    pe);
            Tensor k = ops.normRopeJoint(
                    new Tensor[] {tqkv[1], iqkv[1]},
                    new Tensor[] {txtAttn.norm().keyScale(), imgAttn.norm().keyScale()},
                    pe);
            Tensor v = torch.cat(new TensorVector(tqkv[2], iqkv[2]), 1);
            return FluxMath.attention(q, k, v);
        });
        long txtLen = txt.size(1);
        Tensor txtAttnOut = attn.narrow(1, 0, txtLen);
        Tensor imgAttnOut = attn.narrow(1, txtLen, attn.size(1) - txtLen);

        img = ops.gatedAdd(img, im[0].gate(), imgAttn.proj(imgAttnOut));
        img = ops.gatedAdd(
                img, im[1].gate(), imgMlp.forward(ops.modulatedLayerNorm(img, im[1].shift(), im[1].scale()), ops));

        txt = ops.gatedAdd(txt, tm[0].gate(), txtAttn.proj(txtAttnOut));
        txt = ops.gatedAdd(
                txt, tm[1].gate(), txtMlp.forward(ops.modulatedLayerNorm(txt, tm[1].shift(), tm[1].scale()), ops));
        if (clipF16) {
            // diffusers clips the text stream of fp16 runs to the finite fp16 range
            txt = txt.clamp(new ScalarOptional(new Scalar(-65504.0)), new ScalarOptional(new Scalar(65504.0)));
        }
        return new Tensor[] {img, txt};
    }

    /** Every weight tensor of the block, named relative to {@code double_blocks.N} (block streaming). */
    void forEachParameter(BiConsumer<String, Tensor> visitor) {
        imgMod.forEachParameter((n, t) -> visitor.accept("img_mod." + n, t));
        imgAttn.forEachParameter((n, t) -> visitor.accept("img_attn." + n, t));
        imgMlp.forEachParameter((n, t) -> visitor.accept("img_mlp." + n, t));
        txtMod.forEachParameter((n, t) -> visitor.accept("txt_mod." + n, t));
        txtAttn.forEachParameter((n, t) -> visitor.accept("txt_attn." + n, t));
        txtMlp.forEachParameter((n, t) -> visitor.accept("txt_mlp." + n, t));
    }
}
