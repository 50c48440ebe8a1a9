package io.github.flux4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.clip.ClipTextModel;
import io.github.flux4j.core.clip.ClipTextOutput;
import io.github.flux4j.core.t5.T5EncoderModel;
import io.github.flux4j.core.testing.TextRefs;
import io.github.flux4j.core.torch.ComputeDtype;
import io.github.flux4j.core.torch.FluxDevice;
import io.github.flux4j.core.weights.LoadOptions;
import java.io.IOException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Both encoders on {@code cuda:0} against the (CPU-made) transformers references. Skipped unless
 * the GPU natives and a GPU are present; run on the GPU host with the {@code -gpu} runtime
 * ({@code shared/gpu-host/README.md}). Inputs are CPU tensors: the models move them.
 */
class TextEncoderCudaTest {
    static final FluxDevice GPU = FluxDevice.cuda(0);
    /** float32: cuBLAS and CUDA's SDPA sum in other orders than the CPU kernels (TF32 is off). */
    static final double F32_TOL = 1e-4;
    /**
     * bf16 / f16: GPU kernels round differently from the CPU ones, each flip a 0.4 % (bf16) step
     * that propagates; the bf16-vs-float32 gap is 0.6 % for the dense tiny models and 3 % for the
     * random K-quant one, whose bound is therefore wider.
     */
    static final double HALF_TOL = 1e-2;

    static final double KQUANT_HALF_TOL = 3e-2;
    static TextRefs refs;

    @BeforeAll
    static void needsCuda() {
        assumeTrue(FluxDevice.cudaAvailable(), "no CUDA device / GPU natives");
        refs = TextRefs.open();
    }

    @AfterAll
    static void close() throws IOException {
        if (refs != null) {
            refs.close();
        }
    }

    private static LoadOptions options(String dtype) {
        return LoadOptions.defaults().withDevice(GPU).withDtype(ComputeDtype.valueOf(dtype));
    }

    @ParameterizedTest
    @CsvSource({"F32, f32", "BF16, bf16"})
    void clipMatchesTransformers(String dtype, String tag) throws IOException {
        try (ClipTextModel m = ClipTextModel.load(TextRefs.resource("clip"), options(dtype));
                PointerScope scope = new PointerScope()) {
            ClipTextOutput out = m.forward(refs.get("clip.input_ids"));
            assertThat(out.pooledOutput().is_cuda()).isTrue();
            double tol = dtype.equals("F32") ? F32_TOL : HALF_TOL;
            assertThat(TextRefs.relError(out.lastHiddenState(), refs.get("clip." + tag + ".last_hidden_state")))
                    .isLessThan(tol);
            assertThat(TextRefs.relError(out.pooledOutput(), refs.get("clip." + tag + ".pooled")))
                    .isLessThan(tol);
        }
    }

    @ParameterizedTest
    @CsvSource({
        "t5, F32, t5.input_ids, t5.f32.last_hidden_state",
        "t5, BF16, t5.input_ids, t5.bf16.last_hidden_state",
        "t5, F16, t5.input_ids, t5.f16.last_hidden_state",
        "t5-gguf/t5-tiny-Q8_0.gguf, F32, t5.input_ids, t5q8.f32.last_hidden_state",
        "t5-gguf/t5-tiny-Q8_0.gguf, BF16, t5.input_ids, t5q8.bf16.last_hidden_state",
        "t5-gguf/t5-kquant.gguf, F32, t5k.input_ids, t5k.f32.last_hidden_state",
        "t5-gguf/t5-kquant.gguf, BF16, t5k.input_ids, t5k.bf16.last_hidden_state"
    })
    void t5MatchesTransformers(String file, String dtype, String ids, String ref) throws IOException {
        try (T5EncoderModel m = T5EncoderModel.load(TextRefs.resource(file), options(dtype));
                PointerScope scope = new PointerScope()) {
            Tensor out = m.forward(refs.get(ids));
            assertThat(out.is_cuda()).isTrue();
            double err = TextRefs.relError(out, refs.get(ref));
            System.out.printf("cuda %s %s vs %s: %.3g%n", file, dtype, ref, err);
            double tol = dtype.equals("F32") ? F32_TOL : file.contains("kquant") ? KQUANT_HALF_TOL : HALF_TOL;
            assertThat(err).isLessThan(tol);
        }
    }

    @Test
    void t5AttentionMaskOnTheGpu() throws IOException {
        try (T5EncoderModel m = T5EncoderModel.load(TextRefs.resource("t5"), options("F32"));
                PointerScope scope = new PointerScope()) {
            Tensor out = m.forward(refs.get("t5.input_ids"), refs.get("t5.attention_mask"));
            assertThat(TextRefs.relError(out, refs.get("t5.f32.masked_last_hidden_state")))
                    .isLessThan(F32_TOL);
        }
    }
}
