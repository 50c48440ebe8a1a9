package io.github.flux4j.core.vae;

import io.github.flux4j.core.weights.source.SafetensorsFile;
import io.github.flux4j.core.weights.source.WeightInfo;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/** Copies a safetensors file with tensors removed, reshaped or added, for loading-error tests. */
final class SafetensorsRewriter {
    /** One tensor: dtype as the header names it, shape, raw bytes. */
    record Item(String name, String dtype, long[] shape, byte[] data) {}

    private SafetensorsRewriter() {}

    /** Reads every tensor of {@code src}, lets {@code edit} change the list, writes {@code dst}. */
    static void rewrite(Path src, Path dst, Consumer<List<Item>> edit) throws IOException {
        List<Item> items = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            for (WeightInfo e : f.tensors()) {
                ByteBuffer b = f.data(e);
                byte[] data = new byte[b.remaining()];
                b.get(data);
                items.add(new Item(e.name(), f.dtype(e).name(), e.shape(), data));
            }
        }
        edit.accept(items);
        write(dst, items);
    }

    static void write(Path dst, List<Item> items) throws IOException {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Item it : items) {
            h.append(",\"")
                    .append(it.name())
                    .append("\":{\"dtype\":\"")
                    .append(it.dtype())
                    .append("\",\"shape\":")
                    .append(Arrays.toString(it.shape()).replace(" ", ""))
                    .append(",\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(offset + it.data().length)
                    .append("]}");
            offset += it.data().length;
        }
        h.append('}');
        while ((h.length() + 8) % 8 != 0) {
            h.append(' ');
        }
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        try (OutputStream out = Files.newOutputStream(dst)) {
            out.write(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(header.length)
                    .array());
            out.write(header);
            for (Item it : items) {
                out.write(it.data());
            }
        }
    }
}
