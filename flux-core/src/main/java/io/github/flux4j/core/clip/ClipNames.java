package io.github.flux4j.core.clip;

import io.github.flux4j.core.weights.source.RenamedWeightSource;
import io.github.flux4j.core.weights.source.WeightSource;
import org.jspecify.annotations.Nullable;

/**
 * The tensor names {@link ClipTextModel} binds: transformers' {@code CLIPTextModel} names, all
 * under {@code text_model.}.
 */
public final class ClipNames {
    /** The prefix of every text-model tensor. */
    public static final String TEXT_MODEL = "text_model.";
    /** A buffer older transformers versions saved; not a weight. */
    public static final String POSITION_IDS = "text_model.embeddings.position_ids";

    private ClipNames() {}

    /**
     * The text-model name of a stored tensor, or null for tensors that are not part of the
     * text model. Names from {@code text_model.} on are kept (so that a prefix such as
     * {@code cond_stage_model.transformer.} or {@code text_encoders.clip_l.transformer.} is
     * dropped); the bare names transformers 5 saves a {@code CLIPTextModel} with
     * ({@code embeddings.*}, {@code encoder.layers.*}, {@code final_layer_norm.*}) get the
     * {@code text_model.} prefix that transformers 4 (and FLUX.1's published checkpoint) use; any
     * other name (a full CLIP checkpoint's vision tower, {@code text_projection},
     * {@code logit_scale}) and the {@link #POSITION_IDS} buffer give null.
     */
    public static @Nullable String textModelName(String stored) {
        String name;
        int i = stored.startsWith(TEXT_MODEL) ? 0 : stored.indexOf("." + TEXT_MODEL);
        if (i >= 0) {
            name = i == 0 ? stored : stored.substring(i + 1);
        } else if (stored.startsWith("embeddings.")
                || stored.startsWith("encoder.layers.")
                || stored.startsWith("final_layer_norm.")) {
            name = TEXT_MODEL + stored;
        } else {
            return null;
        }
        return name.equals(POSITION_IDS) ? null : name;
    }

    /** {@code source} as the text model sees it (see {@link #textModelName}); closing it closes {@code source}. */
    public static RenamedWeightSource textModelView(WeightSource source) {
        return RenamedWeightSource.of(source, ClipNames::textModelName);
    }
}
