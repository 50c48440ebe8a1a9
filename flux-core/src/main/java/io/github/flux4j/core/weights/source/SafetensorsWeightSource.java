package io.github.flux4j.core.weights.source;

import io.github.flux4j.gguf.MappedRegions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * BFL-format safetensors files and diffusers folders as a {@link WeightSource}. Each BFL tensor
 * is a list of byte ranges ({@link Part}s) of the underlying files, joined on read.
 */
final class SafetensorsWeightSource extends TableWeightSource<List<SafetensorsWeightSource.Part>> {
    /** The prefix ComfyUI-style all-in-one checkpoints put before transformer names. */
    static final String DIFFUSION_MODEL_PREFIX = "model.diffusion_model.";

    static final String DIFFUSERS_SINGLE = "diffusion_pytorch_model.safetensors";
    static final String DIFFUSERS_INDEX = "diffusion_pytorch_model.safetensors.index.json";
    static final String DIFFUSERS_CONFIG = "config.json";

    /** A byte range of one stored tensor. */
    record Part(SafetensorsFile file, WeightInfo entry, long offset, long length) {}

    private final List<SafetensorsFile> files;
    private final Map<String, String> hints;

    private SafetensorsWeightSource(
            WeightFormat format,
            Path path,
            List<SafetensorsFile> files,
            Map<String, Object> config,
            Map<String, WeightInfo> byName,
            Map<String, List<Part>> parts,
            Map<String, String> hints) {
        super(format, path, config, byName, parts);
        this.files = List.copyOf(files);
        this.hints = hints;
    }

    // ---------------------------------------------------------------- opening

    static SafetensorsWeightSource openFile(Path file) {
        SafetensorsFile st = SafetensorsFile.open(file);
        try {
            boolean diffusers = st.tensors().stream().anyMatch(e -> DiffusersNames.isDiffusersName(e.name()));
            if (diffusers) {
                return diffusers(file, List.of(st), Map.of());
            }
            return bfl(file, st);
        } catch (RuntimeException | Error e) {
            st.close();
            throw e;
        }
    }

    static SafetensorsWeightSource openDiffusersFolder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "not a folder");
        }
        if (!Files.exists(dir.resolve(DIFFUSERS_INDEX))
                && !Files.exists(dir.resolve(DIFFUSERS_SINGLE))
                && Files.isDirectory(dir.resolve("transformer"))) {
            dir = dir.resolve("transformer");
        }
        Map<String, Object> config = readConfig(dir.resolve(DIFFUSERS_CONFIG));
        Path folder = dir;
        Path index = dir.resolve(DIFFUSERS_INDEX);
        return openFolder(
                dir,
                Files.exists(index) ? index : null,
                dir.resolve(DIFFUSERS_SINGLE),
                () -> folder + " is not a diffusers transformer folder: it has neither " + DIFFUSERS_INDEX + " nor "
                        + DIFFUSERS_SINGLE,
                opened -> diffusers(folder, opened, config));
    }

    private static SafetensorsWeightSource bfl(Path file, SafetensorsFile st) {
        boolean prefixed = st.tensors().stream().anyMatch(e -> e.name().startsWith(DIFFUSION_MODEL_PREFIX));
        Map<String, WeightInfo> byName = new LinkedHashMap<>();
        Map<String, List<Part>> parts = new LinkedHashMap<>();
        for (WeightInfo e : st.tensors()) {
            String name = e.name();
            if (prefixed) {
                if (!name.startsWith(DIFFUSION_MODEL_PREFIX)) {
                    continue; // VAE / text encoders of an all-in-one checkpoint
                }
                name = name.substring(DIFFUSION_MODEL_PREFIX.length());
            }
            if (byName.containsKey(name)) {
                throw new WeightException(file + ": tensor " + name + " is stored twice (with and without the "
                        + DIFFUSION_MODEL_PREFIX + " prefix)");
            }
            byName.put(name, e.withName(name));
            parts.put(name, List.of(new Part(st, e, 0, e.byteSize())));
        }
        return new SafetensorsWeightSource(
                WeightFormat.BFL_SAFETENSORS, file, List.of(st), Map.of(), byName, parts, Map.of());
    }

    private static SafetensorsWeightSource diffusers(
            Path path, List<SafetensorsFile> files, Map<String, Object> config) {
        // Group the stored tensors by the BFL tensor they form.
        Map<String, WeightInfo[]> groups = new LinkedHashMap<>();
        Map<String, SafetensorsFile[]> groupFiles = new LinkedHashMap<>();
        Map<String, DiffusersNames.Target> targets = new LinkedHashMap<>();
        Map<String, WeightInfo> byName = new LinkedHashMap<>();
        Map<String, List<Part>> parts = new LinkedHashMap<>();
        Set<String> seen = new LinkedHashSet<>();
        for (SafetensorsFile f : files) {
            for (WeightInfo e : f.tensors()) {
                if (!seen.add(e.name())) {
                    throw new WeightException(path + ": tensor " + e.name() + " is stored in more than one shard");
                }
                Optional<DiffusersNames.Target> t = DiffusersNames.toBfl(e.name());
                if (t.isEmpty()) {
                    // Not a Flux parameter: kept under its own name so that binding reports it.
                    byName.put(e.name(), e);
                    parts.put(e.name(), List.of(new Part(f, e, 0, e.byteSize())));
                    continue;
                }
                DiffusersNames.Target target = t.get();
                groups.computeIfAbsent(target.bflName(), k -> new WeightInfo[target.parts()])[target.part()] = e;
                groupFiles.computeIfAbsent(target.bflName(), k -> new SafetensorsFile[target.parts()])[target.part()] =
                        f;
                targets.put(target.bflName(), target);
            }
        }
        Map<String, String> hints = new LinkedHashMap<>();
        for (Map.Entry<String, WeightInfo[]> g : groups.entrySet()) {
            String bfl = g.getKey();
            WeightInfo[] entries = g.getValue();
            // groups, groupFiles and targets are filled together, under the same keys
            SafetensorsFile[] owners = Objects.requireNonNull(groupFiles.get(bfl), bfl);
            DiffusersNames.Target target = Objects.requireNonNull(targets.get(bfl), bfl);
            List<String> expected = DiffusersNames.toDiffusers(bfl);
            List<String> absent = new ArrayList<>();
            for (int i = 0; i < entries.length; i++) {
                if (entries[i] == null) {
                    absent.add(expected.get(i));
                }
            }
            if (!absent.isEmpty()) {
                hints.put(
                        bfl,
                        " (joined from diffusers " + String.join(" + ", expected) + "; absent: "
                                + String.join(", ", absent) + ")");
                continue;
            }
            WeightInfo first = entries[0];
            long[] trailing =
                    Arrays.copyOfRange(first.shape(), Math.min(1, first.shape().length), first.shape().length);
            long rows = 0;
            List<Part> list = new ArrayList<>();
            for (int i = 0; i < entries.length; i++) {
                WeightInfo e = entries[i];
                long[] s = e.shape();
                if (!e.storedType().equals(first.storedType())
                        || s.length != first.shape().length
                        || s.length == 0
                        || !Arrays.equals(Arrays.copyOfRange(s, 1, s.length), trailing)) {
                    throw new WeightException(
                            path + ": cannot join diffusers " + first.name() + " (" + first.storedType() + " "
                                    + Arrays.toString(first.shape()) + ") and " + e.name() + " (" + e.storedType() + " "
                                    + Arrays.toString(s)
                                    + ") into " + bfl + ": the row parts must share dtype and trailing dims");
                }
                rows += s[0];
                list.add(new Part(owners[i], e, 0, e.byteSize()));
            }
            long[] shape = new long[trailing.length + 1];
            shape[0] = rows;
            System.arraycopy(trailing, 0, shape, 1, trailing.length);
            if (target.swapHalves()) {
                if (rows % 2 != 0) {
                    throw new WeightException(path + ": " + first.name() + " has an odd number of rows " + rows
                            + "; its scale/shift halves cannot be swapped into " + bfl);
                }
                long half = first.byteSize() / 2;
                list = List.of(new Part(owners[0], first, half, half), new Part(owners[0], first, 0, half));
            }
            long bytes = list.stream().mapToLong(Part::length).sum();
            String fileNames = Arrays.stream(owners)
                    .map(f -> String.valueOf(f.path().getFileName()))
                    .distinct()
                    .collect(Collectors.joining(", "));
            String origin = (target.swapHalves() ? "halves swapped of " : "") + String.join(" + ", expected) + " in "
                    + fileNames;
            byName.put(bfl, new WeightInfo(bfl, first.type(), first.storedType(), shape, bytes, origin));
            parts.put(bfl, List.copyOf(list));
        }
        return new SafetensorsWeightSource(WeightFormat.DIFFUSERS, path, files, config, byName, parts, hints);
    }

    // ---------------------------------------------------------------- WeightSource

    @Override
    public Optional<WeightInfo> find(String name) {
        Optional<WeightInfo> w = super.find(name);
        if (w.isEmpty() && name.startsWith(DIFFUSION_MODEL_PREFIX)) {
            w = super.find(name.substring(DIFFUSION_MODEL_PREFIX.length()));
        }
        return w;
    }

    @Override
    public String missingHint(String name) {
        String hint = hints.get(name);
        if (hint != null) {
            return hint;
        }
        if (format() == WeightFormat.DIFFUSERS) {
            List<String> diff = DiffusersNames.toDiffusers(name);
            if (!diff.isEmpty()) {
                return " (diffusers " + String.join(" + ", diff) + ")";
            }
        }
        return "";
    }

    @Override
    public ByteBuffer read(WeightInfo tensor) {
        List<Part> list = own(tensor);
        if (tensor.byteSize() > Integer.MAX_VALUE) {
            throw new WeightException(path() + ": tensor " + tensor.name() + " has " + tensor.byteSize()
                    + " bytes, more than one buffer can address; read it in parts with read(tensor, offset, length)");
        }
        if (list.size() == 1) {
            Part p = list.get(0);
            return p.file().data(p.entry(), p.offset(), (int) p.length());
        }
        return read(tensor, 0, (int) tensor.byteSize());
    }

    @Override
    public ByteBuffer read(WeightInfo tensor, long offsetInTensor, int length) {
        List<Part> list = own(tensor);
        if (offsetInTensor < 0 || length < 0 || offsetInTensor > tensor.byteSize() - length) {
            throw new IllegalArgumentException("range [" + offsetInTensor + ", +" + length + ") is outside tensor "
                    + tensor.name() + " of " + tensor.byteSize() + " bytes");
        }
        // Within one part: a view, no copy.
        long start = 0;
        for (Part p : list) {
            if (offsetInTensor >= start && offsetInTensor + length <= start + p.length()) {
                return p.file().data(p.entry(), p.offset() + offsetInTensor - start, length);
            }
            start += p.length();
        }
        ByteBuffer out = ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
        long end = offsetInTensor + length;
        start = 0;
        for (Part p : list) {
            long from = Math.max(offsetInTensor, start);
            long to = Math.min(end, start + p.length());
            if (from < to) {
                ByteBuffer part = p.file().data(p.entry(), p.offset() + from - start, (int) (to - from));
                out.put(part);
                MappedRegions.unmap(part); // copied: its pages need not stay resident
            }
            start += p.length();
        }
        return out.flip();
    }

    /** Unmaps the buffer now: each read maps its region anew, so nothing else uses it. */
    @Override
    public boolean release(ByteBuffer buffer) {
        return MappedRegions.unmap(buffer);
    }

    @Override
    public void close() {
        closeAll(files);
    }

    @Override
    public String toString() {
        return format() + " " + path();
    }
}
