package io.github.flux4j.core.clip;

import org.bytedeco.pytorch.Tensor;

/**
 * What {@link ClipTextModel#forward} returns: transformers' {@code BaseModelOutputWithPooling}
 * without the optional fields. Both tensors belong to the caller's PointerScope (or to the
 * caller, who closes them, when none was open).
 *
 * @param lastHiddenState {@code [B, L, hidden]}: the final-LayerNorm hidden states
 * @param pooledOutput    {@code [B, hidden]}: the hidden state at each row's end-of-text
 *                        position ({@code pooler_output}, what FLUX's pipeline takes)
 */
public record ClipTextOutput(Tensor lastHiddenState, Tensor pooledOutput) {}
