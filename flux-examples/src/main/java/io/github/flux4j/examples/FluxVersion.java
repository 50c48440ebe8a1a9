package io.github.flux4j.examples;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;

/**
 * What {@code --version} prints: flux4j's version and the LibTorch build it runs on, from a
 * resource that Maven fills in at build time ({@code version.properties}), so it is right in the
 * jar, in {@code target/classes} and in tests alike.
 */
public final class FluxVersion implements CommandLine.IVersionProvider {
    private static final String RESOURCE = "version.properties";

    /** The project version, e.g. {@code 0.1.0-SNAPSHOT}. */
    public static String version() {
        return properties().getProperty("version");
    }

    @Override
    public String[] getVersion() {
        Properties p = properties();
        return new String[] {
            "flux4j " + p.getProperty("version"),
            "LibTorch via org.bytedeco:pytorch:" + p.getProperty("pytorch"),
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"
        };
    }

    private static Properties properties() {
        Properties p = new Properties();
        try (InputStream in = FluxVersion.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("flux-examples resource " + RESOURCE + " is missing (a broken build?)");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (p.getProperty("version", "").isBlank() || p.getProperty("version").contains("${")) {
            throw new IllegalStateException(
                    "flux-examples resource " + RESOURCE + " was not filtered by Maven: " + p.getProperty("version"));
        }
        return p;
    }
}
