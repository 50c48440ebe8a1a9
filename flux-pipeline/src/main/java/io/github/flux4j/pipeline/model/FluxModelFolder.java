package io.github.flux4j.pipeline.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.json.JsonErrors;
import io.github.flux4j.pipeline.scheduler.FlowMatchEulerSchedulerConfig;
import io.github.flux4j.pipeline.scheduler.SchedulerConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A FLUX.1 base model folder in diffusers' layout, validated when opened: every problem found
 * (missing component folders or files, broken cache links, malformed configurations, wrong
 * classes in {@code model_index.json}) is reported at once, in one {@link ModelFolderException}.
 *
 * <pre>
 * model_index.json                       component -&gt; [library, class]
 * scheduler/scheduler_config.json        FlowMatchEulerDiscreteScheduler
 * text_encoder/config.json               CLIPTextModel, + model.safetensors (or sharded, with its index)
 * text_encoder_2/config.json             T5EncoderModel, + model-0000N-of-0000M.safetensors + model.safetensors.index.json
 * tokenizer/vocab.json, merges.txt       CLIP BPE (+ tokenizer_config.json, special_tokens_map.json)
 * tokenizer_2/spiece.model or tokenizer.json   T5 SentencePiece (+ the two JSON files)
 * vae/config.json                        AutoencoderKL, + diffusion_pytorch_model.safetensors
 * transformer/config.json                FluxTransformer2DModel: optional (a GGUF file can stand in)
 * </pre>
 *
 * <p>With {@link Option#T5_WEIGHTS_OPTIONAL} (for a T5 from a GGUF file), {@code text_encoder_2/}
 * is optional as {@code transformer/} is; {@code tokenizer_2/} is still required.
 *
 * <pre>{@code
 * FluxModelFolder dev = FluxModelFolder.resolve("black-forest-labs/FLUX.1-dev");   // HF cache, or a path
 * List<Path> t5 = dev.weightFiles(FluxComponent.TEXT_ENCODER_2);
 * FlowMatchEulerScheduler scheduler = new FlowMatchEulerScheduler(dev.schedulerConfig());
 * LatentGeometry g = LatentGeometry.of(1024, 1024, dev.vaeScaleFactor());
 * }</pre>
 *
 * <p>Paths are returned as found in the folder: in the Hugging Face cache they are symbolic links
 * into {@code blobs/}, which every reader follows. Only safetensors weights are accepted (no
 * pickled {@code .bin}), and only the default variant (not {@code *.fp16.safetensors}).
 * Immutable and thread-safe.
 */
public final class FluxModelFolder {
    private static final Logger LOG = LoggerFactory.getLogger(FluxModelFolder.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final String T5_GGUF_HINT = " (or use a T5 GGUF file, FluxPipeline.Builder.t5Gguf; the folder"
            + " opens without T5's weights with FluxModelFolder.Option.T5_WEIGHTS_OPTIONAL)";

    /** The most resolution levels a VAE may have: scale factor up to 2^9 (FLUX: 4 levels, 8). */
    private static final int MAX_VAE_LEVELS = 10;

    private final Path root;
    private final String source;
    private final ModelIndex modelIndex;
    private final FlowMatchEulerSchedulerConfig schedulerConfig;
    private final Map<FluxComponent, JsonNode> configs;
    private final Map<FluxComponent, List<Path>> weights;
    private final ClipTokenizerFiles clipTokenizer;
    private final T5TokenizerFiles t5Tokenizer;
    private final int vaeScaleFactor;

    /** Relaxations of what opening a folder requires. */
    public enum Option {
        /**
         * {@code text_encoder_2/} (T5's weights, 9.5 GB for FLUX.1-dev) may be absent, for a T5 that
         * comes from a GGUF file ({@code FluxPipeline.Builder.t5Gguf}). As for {@code transformer/}:
         * if the folder exists its {@code config.json} must parse, and weights, if any, are listed.
         */
        T5_WEIGHTS_OPTIONAL
    }

    private FluxModelFolder(
            Path root,
            String source,
            ModelIndex modelIndex,
            FlowMatchEulerSchedulerConfig schedulerConfig,
            Map<FluxComponent, JsonNode> configs,
            Map<FluxComponent, List<Path>> weights,
            ClipTokenizerFiles clipTokenizer,
            T5TokenizerFiles t5Tokenizer,
            int vaeScaleFactor) {
        this.root = root;
        this.source = source;
        this.modelIndex = modelIndex;
        this.schedulerConfig = schedulerConfig;
        this.configs = Collections.unmodifiableMap(configs);
        this.weights = Collections.unmodifiableMap(weights);
        this.clipTokenizer = clipTokenizer;
        this.t5Tokenizer = t5Tokenizer;
        this.vaeScaleFactor = vaeScaleFactor;
    }

    /**
     * The files of a FLUX repository in diffusers' layout that {@link #open} reads, as
     * {@code huggingface_hub} allow patterns: {@code model_index.json}, the scheduler's
     * configuration, both tokenizers, the CLIP and T5 encoders and the VAE (configuration and
     * safetensors weights, single or sharded; no {@code .bin}, no {@code fp16} variants), but not
     * {@code transformer/} (it comes from a GGUF or single file) nor the checkpoint files at the
     * top level. With {@link Option#T5_WEIGHTS_OPTIONAL}, not {@code text_encoder_2/} either. For
     * {@code black-forest-labs/FLUX.1-dev}: about 10 GB with T5's weights, 0.5 GB without, of
     * the repository's 58 GB.
     */
    public static List<String> hubPatterns(Option... options) {
        EnumSet<Option> opts = EnumSet.noneOf(Option.class);
        Collections.addAll(opts, options);
        List<String> p = new ArrayList<>(List.of(
                ModelIndex.FILE_NAME,
                "scheduler/scheduler_config.json",
                "tokenizer/vocab.json",
                "tokenizer/merges.txt",
                "tokenizer/tokenizer.json",
                "tokenizer/tokenizer_config.json",
                "tokenizer/special_tokens_map.json",
                "tokenizer_2/spiece.model",
                "tokenizer_2/tokenizer.json",
                "tokenizer_2/tokenizer_config.json",
                "tokenizer_2/special_tokens_map.json"));
        List<FluxComponent> models = new ArrayList<>(List.of(FluxComponent.TEXT_ENCODER, FluxComponent.VAE));
        if (!opts.contains(Option.T5_WEIGHTS_OPTIONAL)) {
            models.add(1, FluxComponent.TEXT_ENCODER_2);
        }
        for (FluxComponent c : models) {
            String base = c.folder() + "/" + (c == FluxComponent.VAE ? "diffusion_pytorch_model" : "model");
            p.add(c.folder() + "/config.json");
            p.add(base + ".safetensors");
            p.add(base + ".safetensors.index.json");
            p.add(base + "-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9].safetensors");
        }
        return List.copyOf(p);
    }

    /**
     * A local folder, or a Hugging Face repository id in the local cache: {@code spec} is used as a
     * path if that folder exists, else read as {@code "org/name"} or {@code "org/name@revision"}
     * (branch, tag or commit) and looked up with {@link HuggingFaceCache#fromEnvironment()}.
     *
     * @throws ModelFolderException if it is neither, or the folder is not a usable FLUX folder
     * @throws FluxIoException      if a file cannot be read
     */
    public static FluxModelFolder resolve(String spec) {
        return resolve(spec, HuggingFaceCache.fromEnvironment());
    }

    /**
     * {@link #resolve(String)} with repository ids looked up in {@code cache}.
     *
     * @throws ModelFolderException if {@code spec} is neither, or the folder is not a usable FLUX folder
     * @throws FluxIoException      if a file cannot be read
     */
    public static FluxModelFolder resolve(String spec, HuggingFaceCache cache) {
        return resolve(spec, cache, new Option[0]);
    }

    /**
     * {@link #resolve(String, HuggingFaceCache)} with relaxed requirements.
     *
     * @throws ModelFolderException if {@code spec} is neither, or the folder is not a usable FLUX folder
     * @throws FluxIoException      if a file cannot be read
     */
    public static FluxModelFolder resolve(String spec, HuggingFaceCache cache, Option... options) {
        Objects.requireNonNull(spec, "spec");
        try {
            Path p = Path.of(spec);
            if (Files.isDirectory(p)) {
                return open(p, options);
            }
        } catch (InvalidPathException e) {
            // not a path on this system; may still be a repository id
        }
        int at = spec.lastIndexOf('@');
        String repo = at > 0 ? spec.substring(0, at) : spec;
        String revision = at > 0 ? spec.substring(at + 1) : null;
        if (!HuggingFaceCache.isRepoId(repo)) {
            throw new ModelFolderException("'" + spec + "' is neither a folder nor a Hugging Face repository id"
                    + " ('org/name' or 'org/name@revision')");
        }
        try {
            return fromHub(cache, repo, revision, options);
        } catch (ModelFolderException e) {
            throw new ModelFolderException("'" + spec + "' is not a folder; as a repository id: " + e.getMessage(), e);
        }
    }

    /**
     * {@code repoId} at {@code main} in the cache the environment points to.
     *
     * @throws ModelFolderException if it is not cached or not a usable FLUX folder
     * @throws FluxIoException      if a file cannot be read
     */
    public static FluxModelFolder fromHub(String repoId) {
        return fromHub(HuggingFaceCache.fromEnvironment(), repoId, null);
    }

    /**
     * {@code repoId} at {@code revision} (branch, tag or commit; null for {@code main}) in
     * {@code cache}.
     *
     * @throws ModelFolderException if it is not cached or not a usable FLUX folder
     * @throws FluxIoException      if a file cannot be read
     */
    public static FluxModelFolder fromHub(HuggingFaceCache cache, String repoId, @Nullable String revision) {
        return fromHub(cache, repoId, revision, new Option[0]);
    }

    private static FluxModelFolder fromHub(
            HuggingFaceCache cache, String repoId, @Nullable String revision, Option... options) {
        Path snapshot = cache.snapshot(repoId, revision);
        String rev = revision == null ? HuggingFaceCache.DEFAULT_REVISION : revision;
        LOG.debug("{}@{} resolved to {}", repoId, rev, snapshot);
        return open(
                snapshot,
                repoId + "@" + rev + " (snapshot " + snapshot.getFileName() + " in " + cache.hub() + ")",
                options);
    }

    /**
     * A local folder in diffusers' layout.
     *
     * @throws ModelFolderException listing every problem if it is not a usable FLUX folder
     * @throws FluxIoException      if a file cannot be read
     */
    public static FluxModelFolder open(Path root) {
        return open(root, root.toString());
    }

    /**
     * {@link #open(Path)} with relaxed requirements.
     *
     * @throws ModelFolderException listing every problem if it is not a usable FLUX folder
     * @throws FluxIoException      if a file cannot be read
     */
    public static FluxModelFolder open(Path root, Option... options) {
        return open(root, root.toString(), options);
    }

    private static FluxModelFolder open(Path root, String source, Option... options) {
        try {
            return read(root, source, options);
        } catch (IOException e) {
            throw FluxIoException.of(root, e);
        }
    }

    private static FluxModelFolder read(Path root, String source, Option... options) throws IOException {
        EnumSet<Option> opts = EnumSet.noneOf(Option.class);
        Collections.addAll(opts, options);
        if (!Files.isDirectory(root)) {
            throw new ModelFolderException(source + ": no such folder");
        }
        Path indexFile = root.resolve(ModelIndex.FILE_NAME);
        if (!Files.isRegularFile(indexFile)) {
            throw new ModelFolderException(source + " is not a diffusers pipeline folder: no " + ModelIndex.FILE_NAME
                    + (Files.isSymbolicLink(indexFile) ? " (a broken link: its blob is missing)" : ""));
        }
        Problems problems = new Problems(root);
        ModelIndex index = ModelIndex.read(indexFile);
        String pipeline = index.pipelineClass();
        if (!pipeline.startsWith("Flux")) {
            problems.add(ModelIndex.FILE_NAME + ": _class_name is '" + pipeline + "', not a FLUX pipeline");
        } else if (!pipeline.equals("FluxPipeline")) {
            LOG.warn("{}: pipeline class {}; flux4j implements FluxPipeline (text to image)", source, pipeline);
        }
        for (FluxComponent c : FluxComponent.values()) {
            checkIndexEntry(index, c, problems);
        }

        Map<FluxComponent, JsonNode> configs = new EnumMap<>(FluxComponent.class);
        Map<FluxComponent, List<Path>> weights = new EnumMap<>(FluxComponent.class);
        // Models: a config.json and safetensors weights each (T5's may come from a GGUF instead).
        boolean t5Optional = opts.contains(Option.T5_WEIGHTS_OPTIONAL);
        for (FluxComponent c :
                new FluxComponent[] {FluxComponent.TEXT_ENCODER, FluxComponent.TEXT_ENCODER_2, FluxComponent.VAE}) {
            boolean optional = c == FluxComponent.TEXT_ENCODER_2 && t5Optional;
            if (optional && !Files.isDirectory(root.resolve(c.folder()))) {
                LOG.debug("{}: no {}/ folder; T5 must come from a GGUF file", source, c.folder());
                weights.put(c, List.of());
            } else if (problems.requireDir(
                    c,
                    c == FluxComponent.VAE
                            ? "config.json and diffusion_pytorch_model.safetensors"
                            : "config.json and model.safetensors (or sharded, with model.safetensors.index.json)")) {
                readConfig(root, c, "config.json", problems, configs);
                weights.put(
                        c,
                        weightFiles(
                                root,
                                c,
                                c == FluxComponent.VAE ? "diffusion_pytorch_model" : "model",
                                problems,
                                !optional));
            }
        }
        // The transformer folder is optional (GGUF); when present, its config must be sound.
        Path transformerDir = root.resolve(FluxComponent.TRANSFORMER.folder());
        if (Files.isDirectory(transformerDir)) {
            readConfig(root, FluxComponent.TRANSFORMER, "config.json", problems, configs);
            weights.put(
                    FluxComponent.TRANSFORMER,
                    weightFiles(root, FluxComponent.TRANSFORMER, "diffusion_pytorch_model", problems, false));
        } else {
            LOG.debug("{}: no transformer/ folder; the transformer must come from a GGUF or single file", source);
            weights.put(FluxComponent.TRANSFORMER, List.of());
        }

        FlowMatchEulerSchedulerConfig scheduler = null;
        if (problems.requireDir(FluxComponent.SCHEDULER, "scheduler_config.json")) {
            Path file = root.resolve("scheduler/scheduler_config.json");
            if (problems.requireFile(file, "the scheduler configuration")) {
                try {
                    scheduler = FlowMatchEulerSchedulerConfig.read(file);
                    configs.put(FluxComponent.SCHEDULER, JSON.readTree(file.toFile()));
                } catch (SchedulerConfigException e) {
                    problems.add(String.valueOf(e.getMessage()));
                }
            }
        }

        ClipTokenizerFiles clip = null;
        if (problems.requireDir(FluxComponent.TOKENIZER, "vocab.json and merges.txt")) {
            Path dir = root.resolve(FluxComponent.TOKENIZER.folder());
            boolean vocab = problems.requireFile(dir.resolve("vocab.json"), "CLIP's vocabulary");
            boolean merges = problems.requireFile(dir.resolve("merges.txt"), "CLIP's BPE merges");
            if (vocab && merges) {
                clip = new ClipTokenizerFiles(
                        dir.resolve("vocab.json"),
                        dir.resolve("merges.txt"),
                        optionalFile(dir.resolve("tokenizer_config.json"), problems),
                        optionalFile(dir.resolve("special_tokens_map.json"), problems));
            }
        }
        T5TokenizerFiles t5 = null;
        if (problems.requireDir(FluxComponent.TOKENIZER_2, "spiece.model or tokenizer.json")) {
            Path dir = root.resolve(FluxComponent.TOKENIZER_2.folder());
            Path spiece = optionalFile(dir.resolve("spiece.model"), problems);
            Path json = optionalFile(dir.resolve("tokenizer.json"), problems);
            if (spiece == null && json == null) {
                problems.add(FluxComponent.TOKENIZER_2.folder() + "/ has neither spiece.model nor tokenizer.json"
                        + " (T5's SentencePiece tokenizer needs one of them)");
            } else {
                t5 = new T5TokenizerFiles(
                        spiece,
                        json,
                        optionalFile(dir.resolve("tokenizer_config.json"), problems),
                        optionalFile(dir.resolve("special_tokens_map.json"), problems));
            }
        }

        int scale = 0;
        JsonNode vae = configs.get(FluxComponent.VAE);
        if (vae != null) {
            JsonNode blocks = vae.get("block_out_channels");
            if (blocks == null || !blocks.isArray() || blocks.isEmpty()) {
                problems.add("vae/config.json: block_out_channels must be a non-empty array (it sets the VAE scale"
                        + " factor), got " + blocks);
            } else if (blocks.size() > MAX_VAE_LEVELS) {
                // 1 << 31 and beyond would wrap around; no VAE has more than a handful of levels.
                problems.add("vae/config.json: block_out_channels has " + blocks.size() + " entries, more than "
                        + MAX_VAE_LEVELS + " (the VAE scale factor 2^(entries - 1) would be absurd)");
            } else {
                scale = 1 << (blocks.size() - 1); // FluxPipeline: 2 ** (len(block_out_channels) - 1)
            }
        }
        problems.throwIfAny(source);
        return new FluxModelFolder(
                root,
                source,
                index,
                Objects.requireNonNull(scheduler),
                configs,
                weights,
                Objects.requireNonNull(clip),
                Objects.requireNonNull(t5),
                scale);
    }

    private static void checkIndexEntry(ModelIndex index, FluxComponent c, Problems problems) {
        ModelIndex.LibraryClass entry = index.components().get(c.folder());
        String expected = "[" + c.library() + ", " + String.join(" or ", c.classNames()) + "]";
        if (entry == null) {
            if (c.requiredInFolder()) {
                problems.add(ModelIndex.FILE_NAME + " lists no " + c.folder() + " (expected " + expected + ")");
            }
        } else if (!entry.library().equals(c.library()) || !c.classNames().contains(entry.className())) {
            problems.add(ModelIndex.FILE_NAME + ": " + c.folder() + " is [" + entry.library() + ", " + entry.className()
                    + "], expected " + expected);
        }
    }

    private static void readConfig(
            Path root, FluxComponent c, String name, Problems problems, Map<FluxComponent, JsonNode> configs)
            throws IOException {
        Path file = root.resolve(c.folder()).resolve(name);
        if (!problems.requireFile(file, "the " + c.classNames().get(0) + " configuration")) {
            return;
        }
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject()) {
                problems.add(c.folder() + "/" + name + ": expected a JSON object");
            } else {
                configs.put(c, node);
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            problems.add(c.folder() + "/" + name + ": not valid JSON: " + JsonErrors.describe(e));
        }
    }

    /**
     * The safetensors files of a model folder: {@code <base>.safetensors}, else the shards named by
     * {@code <base>.safetensors.index.json}'s {@code weight_map} (each once, sorted), as diffusers
     * and transformers prefer them.
     */
    private static List<Path> weightFiles(Path root, FluxComponent c, String base, Problems problems, boolean required)
            throws IOException {
        Path dir = root.resolve(c.folder());
        Path single = dir.resolve(base + ".safetensors");
        Path index = dir.resolve(base + ".safetensors.index.json");
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        if (Files.isRegularFile(index)) {
            return shards(index, c.folder() + "/" + index.getFileName(), problems, required);
        }
        for (Path p : new Path[] {single, index}) {
            if (Files.isSymbolicLink(p)) {
                problems.add(c.folder() + "/" + p.getFileName() + " is a broken link (its blob is missing: an"
                        + " interrupted download?)");
                return List.of();
            }
        }
        if (required) {
            String found = listing(dir);
            boolean pickles = found.contains(".bin");
            problems.add(c.folder() + "/ has no " + base + ".safetensors or " + base + ".safetensors.index.json"
                    + (pickles ? " (only PyTorch pickle .bin weights, which flux4j does not read)" : "")
                    + "; it holds: " + found + (c == FluxComponent.TEXT_ENCODER_2 ? T5_GGUF_HINT : ""));
        }
        return List.of();
    }

    /** With {@code required} false, an index without any of its shards (only the JSON downloaded) means no weights. */
    private static List<Path> shards(Path index, String name, Problems problems, boolean required) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            problems.add(name + ": not valid JSON: " + JsonErrors.describe(e));
            return List.of();
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            problems.add(name + ": weight_map must be a non-empty object of tensor name to file name");
            return List.of();
        }
        TreeSet<String> files = new TreeSet<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            JsonNode f = e.getValue();
            // A plain file name of this folder: the index must not reach elsewhere.
            if (!f.isTextual()
                    || f.asText().isEmpty()
                    || f.asText().contains("/")
                    || f.asText().contains("\\")
                    || f.asText().indexOf('\0') >= 0
                    || f.asText().equals("..")
                    || f.asText().equals(".")) {
                problems.add(
                        name + ": weight_map['" + e.getKey() + "'] must be a file name in the same folder, got " + f);
                return List.of();
            }
            files.add(f.asText());
        }
        if (!required
                && files.stream().noneMatch(f -> Files.exists(index.resolveSibling(f), LinkOption.NOFOLLOW_LINKS))) {
            LOG.debug("{}: none of its shards are here; no weights", name);
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        for (String f : files) {
            Path shard = index.resolveSibling(f);
            if (problems.requireFile(shard, "a shard listed in " + index.getFileName())) {
                out.add(shard);
            }
        }
        return List.copyOf(out);
    }

    private static @Nullable Path optionalFile(Path p, Problems problems) {
        if (Files.isRegularFile(p)) {
            return p;
        }
        if (Files.isSymbolicLink(p)) {
            problems.add(problems.relative(p) + " is a broken link (its blob is missing: an interrupted download?)");
        }
        return null;
    }

    private static String listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
            return names.isEmpty() ? "nothing" : String.join(", ", names);
        }
    }

    /** The problems found so far; every check adds to it rather than stopping at the first. */
    private static final class Problems {
        private final Path root;
        private final List<String> list = new ArrayList<>();

        Problems(Path root) {
            this.root = root;
        }

        void add(String problem) {
            list.add(problem);
        }

        String relative(Path p) {
            return root.relativize(p).toString().replace('\\', '/');
        }

        boolean requireDir(FluxComponent c, String expectedFiles) {
            Path dir = root.resolve(c.folder());
            if (Files.isDirectory(dir)) {
                return true;
            }
            add(c.folder() + "/ is missing (the " + c.classNames().get(0) + " component: expected " + expectedFiles
                    + ")" + (c == FluxComponent.TEXT_ENCODER_2 ? T5_GGUF_HINT : ""));
            return false;
        }

        boolean requireFile(Path p, String what) {
            if (Files.isRegularFile(p)) {
                return true;
            }
            if (Files.isSymbolicLink(p)) {
                add(relative(p) + " is a broken link (" + what + "; its blob is missing: an interrupted download?)");
            } else {
                add(relative(p) + " is missing (" + what + ")");
            }
            return false;
        }

        void throwIfAny(String source) {
            if (!list.isEmpty()) {
                throw new ModelFolderException(
                        source + " is not a usable FLUX model folder:\n  - " + String.join("\n  - ", list));
            }
        }
    }

    /** The folder (for a cached repository, its snapshot folder). */
    public Path root() {
        return root;
    }

    /** Where it came from, for messages: the path, or {@code repo@revision (snapshot ... in ...)}. */
    public String source() {
        return source;
    }

    /** The parsed {@code model_index.json}. */
    public ModelIndex modelIndex() {
        return modelIndex;
    }

    /** The scheduler configuration ({@code scheduler/scheduler_config.json}). */
    public FlowMatchEulerSchedulerConfig schedulerConfig() {
        return schedulerConfig;
    }

    /**
     * The folder of {@code component} (for {@link FluxComponent#TRANSFORMER}, and for
     * {@link FluxComponent#TEXT_ENCODER_2} with {@link Option#T5_WEIGHTS_OPTIONAL}, it may not exist).
     */
    public Path componentDir(FluxComponent component) {
        return root.resolve(component.folder());
    }

    /** Whether the folder has the transformer's configuration (its weights may still be absent). */
    public boolean hasTransformer() {
        return configs.containsKey(FluxComponent.TRANSFORMER);
    }

    /**
     * The configuration file of a model component: {@code config.json} (transformer, text
     * encoders, VAE) or {@code scheduler_config.json}.
     *
     * @throws IllegalArgumentException for a tokenizer (see {@link #clipTokenizer()},
     *                                  {@link #t5Tokenizer()}), or the transformer (or an optional T5)
     *                                  when absent
     */
    public Path configFile(FluxComponent component) {
        requireConfig(component);
        return componentDir(component)
                .resolve(component == FluxComponent.SCHEDULER ? "scheduler_config.json" : "config.json");
    }

    /**
     * The parsed configuration of a model component, for the component's own config record to
     * read: a new map on each call (the caller may change it), of JSON values as Java values
     * ({@code Map}, {@code List}, {@code String}, {@code Integer}/{@code Long}/{@code Double},
     * {@code Boolean}, null), the same form as {@link io.github.flux4j.core.weights.source.WeightSource#config()}.
     *
     * @throws IllegalArgumentException as {@link #configFile(FluxComponent)}
     */
    public Map<String, Object> config(FluxComponent component) {
        return JSON.convertValue(requireConfig(component), new com.fasterxml.jackson.core.type.TypeReference<>() {});
    }

    private JsonNode requireConfig(FluxComponent component) {
        JsonNode config = configs.get(component);
        if (config == null) {
            throw new IllegalArgumentException(
                    component == FluxComponent.TOKENIZER || component == FluxComponent.TOKENIZER_2
                            ? component.folder() + " has no model configuration; see clipTokenizer() and t5Tokenizer()"
                            : source + " has no " + component.folder() + "/ configuration");
        }
        return config;
    }

    /**
     * The safetensors weight files of a model component, in load order (one file, or every shard
     * once, sorted by name). Empty for a transformer without weights here, and for a T5 without
     * weights in a folder opened with {@link Option#T5_WEIGHTS_OPTIONAL}.
     *
     * @throws IllegalArgumentException for the scheduler or a tokenizer
     */
    public List<Path> weightFiles(FluxComponent component) {
        List<Path> w = weights.get(component);
        if (w == null) {
            throw new IllegalArgumentException(component.folder() + " has no weights");
        }
        return w;
    }

    /** CLIP's tokenizer files ({@code tokenizer/}). */
    public ClipTokenizerFiles clipTokenizer() {
        return clipTokenizer;
    }

    /** T5's tokenizer files ({@code tokenizer_2/}). */
    public T5TokenizerFiles t5Tokenizer() {
        return t5Tokenizer;
    }

    /**
     * The VAE scale factor, {@code 2^(len(vae.block_out_channels) - 1)}: 8 for FLUX, as
     * FluxPipeline computes it. Use it for
     * {@link io.github.flux4j.pipeline.latents.LatentGeometry#of(int, int, int)}.
     */
    public int vaeScaleFactor() {
        return vaeScaleFactor;
    }

    @Override
    public String toString() {
        return "FluxModelFolder[" + source + "]";
    }
}
