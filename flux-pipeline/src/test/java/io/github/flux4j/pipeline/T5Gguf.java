package io.github.flux4j.pipeline;

import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightInfo;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.GgufValue;
import io.github.flux4j.gguf.GgufWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Writes a transformers T5 encoder folder (bf16 safetensors) as a llama.cpp / city96 style GGUF. */
final class T5Gguf {
    private static final Pattern BLOCK = Pattern.compile("^encoder\\.block\\.(\\d+)\\.(.+)\\.weight$");
    private static final Map<String, String> PARTS = Map.of(
            "layer.0.layer_norm",
            "attn_norm",
            "layer.0.SelfAttention.q",
            "attn_q",
            "layer.0.SelfAttention.k",
            "attn_k",
            "layer.0.SelfAttention.v",
            "attn_v",
            "layer.0.SelfAttention.o",
            "attn_o",
            "layer.0.SelfAttention.relative_attention_bias",
            "attn_rel_b",
            "layer.1.layer_norm",
            "ffn_norm",
            "layer.1.DenseReluDense.wi_0",
            "ffn_gate",
            "layer.1.DenseReluDense.wi_1",
            "ffn_up",
            "layer.1.DenseReluDense.wo",
            "ffn_down");

    private T5Gguf() {}

    /**
     * @param matrices the type of the 2-D weights (norms and the position bias stay F32, as
     *                 llama-quantize keeps them)
     */
    static Path write(Path folder, Path out, GgmlType matrices) throws IOException {
        Map<String, float[]> values = new TreeMap<>();
        Map<String, long[]> shapes = new TreeMap<>();
        try (DirectoryStream<Path> shards = Files.newDirectoryStream(folder, "*.safetensors")) {
            for (Path shard : shards) {
                try (SafetensorsFile f = SafetensorsFile.open(shard)) {
                    for (WeightInfo e : f.tensors()) {
                        ByteBuffer b = f.data(e).order(ByteOrder.LITTLE_ENDIAN);
                        float[] v = new float[Math.toIntExact(e.elementCount())];
                        for (int i = 0; i < v.length; i++) {
                            v[i] = Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16); // bf16
                        }
                        String name = llamaName(e.name());
                        values.put(name, v);
                        shapes.put(name, e.shape());
                    }
                }
            }
        }
        GgufWriter w = GgufWriter.create().put("general.architecture", GgufValue.of("t5encoder"));
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            long[] shape = shapes.get(e.getKey());
            boolean matrix = shape.length == 2 && !e.getKey().contains("attn_rel_b");
            w.addTensor(e.getKey(), e.getValue(), shape, matrix ? matrices : GgmlType.F32);
        }
        w.write(out);
        return out;
    }

    private static String llamaName(String hf) {
        if (hf.equals("shared.weight")) {
            return "token_embd.weight";
        }
        if (hf.equals("encoder.final_layer_norm.weight")) {
            return "enc.output_norm.weight";
        }
        Matcher m = BLOCK.matcher(hf);
        if (!m.matches() || !PARTS.containsKey(m.group(2))) {
            throw new IllegalArgumentException("unexpected T5 tensor " + hf);
        }
        return "enc.blk." + m.group(1) + "." + PARTS.get(m.group(2)) + ".weight";
    }
}
