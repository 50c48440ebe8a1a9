package io.github.flux4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgufFile;
import io.github.flux4j.pipeline.FluxPipeline;
import io.github.flux4j.tokenizers.ClipTokenizer;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * An application that depends on flux4j the documented way (README.md, "GPU"): it imports
 * {@code flux4j-bom}, depends on {@code flux-pipeline} and adds one natives block. Maven resolves it
 * offline, from the local repository (this build's flux4j artifacts in a temporary overlay of it),
 * so the test also proves the published poms pass no natives jar on.
 *
 * <ul>
 *   <li>no natives block: compiles; no {@code linux-x86_64} jar in its dependencies; running it
 *       fails with the message naming the dependency to add;</li>
 *   <li>CPU block: runs LibTorch (a tensor sum);</li>
 *   <li>GPU block: resolves to the {@code -gpu} and {@code cuda} natives and no CPU natives; it runs
 *       only when the 440 MB {@code -gpu} jar is already in the local repository (never
 *       downloaded here), then either computes (CUDA libraries present) or fails naming them;</li>
 *   <li>both blocks (a wrong mix): resolves both; when the {@code -gpu} jar is there, running it
 *       fails at once with the "Both LibTorch natives jars" message.</li>
 * </ul>
 * One offline Maven run ({@code compile dependency:tree}) does all four; a few seconds. It runs
 * with failsafe, after {@code package}, when every plugin the offline build needs (the dependency
 * plugin included) has been resolved by this build.
 */
class NativesBlocksIT {
    private static final String APP = """
            package consumer;

            import io.github.flux4j.core.doctor.PytorchNatives;
            import io.github.flux4j.core.torch.Torch;
            import org.bytedeco.pytorch.global.torch;

            public class App {
                public static void main(String[] args) {
                    Torch.init();
                    System.out.println(PytorchNatives.find().variant() + " " + torch.ones(2, 3).sum().item_float());
                }
            }
            """;
    private static final Pattern TREE_LINE = Pattern.compile(
            "^[|+\\\\ -]*([^:\\s]+):([^:]+):jar(?::([^:]+))?:([^:]+):(compile|runtime|provided|test|system)$");

    @TempDir
    static Path work;

    private static Path repo;
    private static Path userRepo;
    private static final Map<String, List<String[]>> TREES = new LinkedHashMap<>();

    @BeforeAll
    static void buildConsumers() throws Exception {
        String local = System.getProperty("flux4j.it.localRepository");
        String mavenHome = System.getProperty("flux4j.it.mavenHome");
        String root = System.getProperty("flux4j.it.rootDir");
        String version = System.getProperty("flux4j.it.version");
        assumeTrue(
                local != null && mavenHome != null && root != null && version != null,
                "run by Maven (surefire passes the local repository, Maven home and project folder)");
        userRepo = Path.of(local);
        Path rootDir = Path.of(root).toRealPath();
        repo = overlayRepository(userRepo, work.resolve("repo"));
        Path flux4j = repo.resolve("io/github/flux4j");
        install(flux4j, "flux4j-bom", version, rootDir.resolve("flux4j-bom/pom.xml"), null);
        install(flux4j, "flux4j-parent", version, rootDir.resolve("pom.xml"), null);
        install(flux4j, "flux-gguf", version, rootDir.resolve("flux-gguf/pom.xml"), codeSource(GgufFile.class));
        install(flux4j, "flux-core", version, rootDir.resolve("flux-core/pom.xml"), codeSource(Torch.class));
        install(
                flux4j,
                "flux-tokenizers",
                version,
                rootDir.resolve("flux-tokenizers/pom.xml"),
                codeSource(ClipTokenizer.class));
        install(
                flux4j,
                "flux-pipeline",
                version,
                rootDir.resolve("flux-pipeline/pom.xml"),
                codeSource(FluxPipeline.class));

        Path consumers = work.resolve("consumers");
        Map<String, String> blocks = new LinkedHashMap<>();
        blocks.put("none", "");
        blocks.put("cpu", natives("linux-x86_64"));
        blocks.put("gpu", natives("linux-x86_64-gpu") + dependency("cuda", "linux-x86_64"));
        blocks.put("both", natives("linux-x86_64") + natives("linux-x86_64-gpu") + dependency("cuda", "linux-x86_64"));
        StringBuilder modules = new StringBuilder();
        for (Map.Entry<String, String> b : blocks.entrySet()) {
            Path m = consumers.resolve(b.getKey());
            Files.createDirectories(m.resolve("src/main/java/consumer"));
            Files.writeString(m.resolve("src/main/java/consumer/App.java"), APP);
            Files.writeString(m.resolve("pom.xml"), modulePom(b.getKey(), version, b.getValue()));
            modules.append("<module>").append(b.getKey()).append("</module>");
        }
        Map<String, String> plugins = pluginVersions(rootDir.resolve("pom.xml"));
        Files.writeString(consumers.resolve("pom.xml"), aggregatorPom(version, modules.toString(), plugins));

        List<String> mvn = List.of(
                Path.of(mavenHome, "bin", "mvn").toString(),
                "-o",
                "-q",
                "-B",
                "-Dmaven.repo.local=" + repo,
                "-f",
                consumers.resolve("pom.xml").toString(),
                "compile",
                "org.apache.maven.plugins:maven-dependency-plugin:" + plugins.get("maven-dependency-plugin") + ":tree",
                "-DoutputFile=tree.txt");
        Run r = exec(mvn, consumers, 300);
        assertThat(r.status).as("offline consumer build:\n" + r.out).isZero();
        for (String name : blocks.keySet()) {
            List<String[]> deps = new ArrayList<>();
            for (String line : Files.readAllLines(consumers.resolve(name).resolve("tree.txt"))) {
                Matcher m = TREE_LINE.matcher(line.strip());
                if (m.matches() && !m.group(5).equals("test")) {
                    deps.add(new String[] {m.group(1), m.group(2), m.group(3), m.group(4)});
                }
            }
            TREES.put(name, deps);
            assertThat(consumers.resolve(name).resolve("target/classes/consumer/App.class"))
                    .exists();
        }
    }

    /** Removes the overlay's links first, so that the temporary folder's cleanup never follows one. */
    @AfterAll
    static void unlinkOverlay() throws IOException {
        if (repo != null) {
            try (Stream<Path> all = Files.walk(repo, 3)) {
                for (Path p : (Iterable<Path>) all.filter(Files::isSymbolicLink)::iterator) {
                    Files.delete(p);
                }
            }
        }
    }

    @Test
    void fluxPipelineAloneBringsNoNatives() throws Exception {
        assertThat(classifiers("none")).isEmpty();
        assertThat(coordinates("none"))
                .contains(
                        "io.github.flux4j:flux-core",
                        "org.bytedeco:pytorch",
                        "org.bytedeco:javacpp",
                        "org.bytedeco:openblas",
                        "org.bytedeco:cuda");
        Run r = runApp("none");
        assertThat(r.status).isNotZero();
        assertThat(r.out)
                .contains(
                        "LibTorch cannot load",
                        "No LibTorch natives for linux-x86_64 on the class path: add org.bytedeco:pytorch:2.10.0-1.5.13"
                                + " with classifier linux-x86_64 (CPU) or linux-x86_64-gpu (CUDA)",
                        "org.bytedeco:javacpp:1.5.13 with classifier linux-x86_64");
    }

    @Test
    void theCpuBlockRunsLibTorch() throws Exception {
        assertThat(classifiers("cpu"))
                .containsExactlyInAnyOrder("pytorch:linux-x86_64", "javacpp:linux-x86_64", "openblas:linux-x86_64");
        Run r = runApp("cpu");
        assertThat(r.status).as(r.out).isZero();
        assertThat(r.out.strip()).endsWith("CPU 6.0");
    }

    @Test
    void theGpuBlockResolvesTheGpuNativesOnly() throws Exception {
        assertThat(classifiers("gpu"))
                .containsExactlyInAnyOrder(
                        "pytorch:linux-x86_64-gpu",
                        "cuda:linux-x86_64",
                        "javacpp:linux-x86_64",
                        "openblas:linux-x86_64");
        assumeTrue(
                gpuJarCached(),
                "the -gpu natives jar is not in the local repository (it is not downloaded for this test)");
        Run r = runApp("gpu");
        if (r.status == 0) {
            assertThat(r.out.strip()).endsWith("GPU 6.0");
        } else {
            assertThat(r.out).contains("The GPU LibTorch natives", "libcudart.so.13", "CUDA cannot be used:");
        }
    }

    @Test
    void bothBlocksFailAtOnceWithAMessage() throws Exception {
        assertThat(classifiers("both")).contains("pytorch:linux-x86_64", "pytorch:linux-x86_64-gpu");
        assumeTrue(
                gpuJarCached(),
                "the -gpu natives jar is not in the local repository (it is not downloaded for this test)");
        Run r = runApp("both");
        assertThat(r.status).isNotZero();
        assertThat(r.out)
                .contains("Both LibTorch natives jars are on the class path (pytorch-2.10.0-1.5.13-linux-x86_64.jar"
                        + " and pytorch-2.10.0-1.5.13-linux-x86_64-gpu.jar)");
    }

    private static boolean gpuJarCached() {
        return Files.exists(
                userRepo.resolve("org/bytedeco/pytorch/2.10.0-1.5.13/pytorch-2.10.0-1.5.13-linux-x86_64-gpu.jar"));
    }

    private static List<String> classifiers(String consumer) {
        List<String> out = new ArrayList<>();
        for (String[] d : TREES.get(consumer)) {
            if (d[2] != null) {
                out.add(d[1] + ":" + d[2]);
            }
        }
        return out;
    }

    private static List<String> coordinates(String consumer) {
        return TREES.get(consumer).stream().map(d -> d[0] + ":" + d[1]).toList();
    }

    /** Runs consumer.App on the resolved class path (compile and runtime dependencies, from the repository). */
    private static Run runApp(String consumer) throws Exception {
        List<String> cp = new ArrayList<>();
        cp.add(work.resolve("consumers")
                .resolve(consumer)
                .resolve("target/classes")
                .toString());
        for (String[] d : TREES.get(consumer)) {
            String file = d[1] + "-" + d[3] + (d[2] == null ? "" : "-" + d[2]) + ".jar";
            cp.add(repo.resolve(d[0].replace('.', '/'))
                    .resolve(d[1])
                    .resolve(d[3])
                    .resolve(file)
                    .toString());
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return exec(
                List.of(
                        java,
                        "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0",
                        "-Dorg.bytedeco.javacpp.maxBytes=0",
                        "-cp",
                        String.join(File.pathSeparator, cp),
                        "consumer.App"),
                work,
                120);
    }

    private static String natives(String pytorchClassifier) {
        return dependency("pytorch", pytorchClassifier)
                + dependency("javacpp", "linux-x86_64")
                + dependency("openblas", "linux-x86_64");
    }

    private static String dependency(String artifact, String classifier) {
        return "<dependency><groupId>org.bytedeco</groupId><artifactId>" + artifact + "</artifactId><classifier>"
                + classifier + "</classifier><scope>runtime</scope></dependency>\n";
    }

    private static String modulePom(String name, String version, String nativesBlock) {
        return """
                <project xmlns="http://maven.apache.org/POM/4.0.0">
                  <modelVersion>4.0.0</modelVersion>
                  <parent><groupId>consumer</groupId><artifactId>consumers</artifactId><version>1</version></parent>
                  <artifactId>%s</artifactId>
                  <dependencies>
                    <dependency><groupId>io.github.flux4j</groupId><artifactId>flux-pipeline</artifactId></dependency>
                    %s
                  </dependencies>
                </project>
                """.formatted(name, nativesBlock);
    }

    /** The consumers' parent: imports flux4j-bom; pins the plugins this build already used (offline). */
    private static String aggregatorPom(String version, String modules, Map<String, String> plugins) {
        return """
                <project xmlns="http://maven.apache.org/POM/4.0.0">
                  <modelVersion>4.0.0</modelVersion>
                  <groupId>consumer</groupId><artifactId>consumers</artifactId><version>1</version>
                  <packaging>pom</packaging>
                  <modules>%s</modules>
                  <properties>
                    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
                    <maven.compiler.release>17</maven.compiler.release>
                  </properties>
                  <dependencyManagement>
                    <dependencies>
                      <dependency>
                        <groupId>io.github.flux4j</groupId><artifactId>flux4j-bom</artifactId><version>%s</version>
                        <type>pom</type><scope>import</scope>
                      </dependency>
                    </dependencies>
                  </dependencyManagement>
                  <build>
                    <pluginManagement>
                      <plugins>
                        <plugin><artifactId>maven-compiler-plugin</artifactId><version>%s</version></plugin>
                        <plugin><artifactId>maven-resources-plugin</artifactId><version>%s</version></plugin>
                      </plugins>
                    </pluginManagement>
                  </build>
                </project>
                """.formatted(
                        modules, version, plugins.get("maven-compiler-plugin"), plugins.get("maven-resources-plugin"));
    }

    /** The plugin versions in flux4j's root pom (pluginManagement), so that the offline build finds them. */
    private static Map<String, String> pluginVersions(Path rootPom) throws Exception {
        Element doc = DocumentBuilderFactory.newInstance()
                .newDocumentBuilder()
                .parse(rootPom.toFile())
                .getDocumentElement();
        NodeList plugins = doc.getElementsByTagName("plugin");
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < plugins.getLength(); i++) {
            Element p = (Element) plugins.item(i);
            NodeList a = p.getElementsByTagName("artifactId");
            NodeList v = p.getElementsByTagName("version");
            if (a.getLength() > 0 && v.getLength() > 0) {
                out.putIfAbsent(
                        a.item(0).getTextContent().strip(),
                        v.item(0).getTextContent().strip());
            }
        }
        for (String needed : List.of("maven-compiler-plugin", "maven-resources-plugin", "maven-dependency-plugin")) {
            assertThat(out).as("root pom pins " + needed).containsKey(needed);
        }
        return out;
    }

    /**
     * A local repository that is the user's, except for io/github/flux4j: every other entry is a
     * symbolic link into the user's repository (works with any Maven version, copies nothing).
     */
    private static Path overlayRepository(Path user, Path overlay) throws IOException {
        link(user, overlay, List.of("io", "github", "flux4j"));
        return overlay;
    }

    private static void link(Path from, Path to, List<String> keep) throws IOException {
        Files.createDirectories(to);
        if (keep.isEmpty() || !Files.isDirectory(from)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(from)) {
            for (Path e : entries) {
                String name = e.getFileName().toString();
                if (name.equals(keep.get(0))) {
                    link(e, to.resolve(name), keep.subList(1, keep.size()));
                } else {
                    Files.createSymbolicLink(to.resolve(name), e);
                }
            }
        }
        if (!Files.exists(to.resolve(keep.get(0)))) {
            Files.createDirectories(to.resolve(keep.get(0)));
        }
    }

    /** Puts a pom (and jar) where {@code mvn install} would (a snapshot installed locally). */
    private static void install(Path groupDir, String artifact, String version, Path pom, Path jarOrClasses)
            throws IOException {
        Path dir = Files.createDirectories(groupDir.resolve(artifact).resolve(version));
        Files.copy(pom, dir.resolve(artifact + "-" + version + ".pom"));
        if (jarOrClasses != null) {
            Path jar = dir.resolve(artifact + "-" + version + ".jar");
            if (Files.isDirectory(jarOrClasses)) {
                jar(jarOrClasses, jar);
            } else {
                Files.copy(jarOrClasses, jar);
            }
        }
    }

    private static Path codeSource(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    /** Jars a class folder (surefire may see a module's target/classes rather than its jar). */
    private static void jar(Path classes, Path jar) throws IOException {
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
                Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
    }

    private record Run(int status, String out) {}

    private static Run exec(List<String> command, Path dir, long timeoutSeconds) throws Exception {
        Path log = Files.createTempFile(work, "run", ".log");
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().remove("MAVEN_OPTS");
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(command + " took more than " + timeoutSeconds + " s:\n" + Files.readString(log));
        }
        return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }
}
