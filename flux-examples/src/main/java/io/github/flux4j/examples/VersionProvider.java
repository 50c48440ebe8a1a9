package io.github.flux4j.examples;

import io.github.flux4j.core.torch.Torch;
import picocli.CommandLine;

/**
 * The commands' {@code --version}: flux4j's version from the jar manifest
 * ({@code Implementation-Version}, written by the build), or "development build" when running from
 * class folders.
 */
public final class VersionProvider implements CommandLine.IVersionProvider {
    /** {@code flux4j 0.1.0}, the version of the flux-examples jar (else flux-core's). */
    static String line() {
        return "flux4j " + version();
    }

    /** The manifest version of this jar, else of flux-core's, else "(development build)". */
    static String version() {
        for (Class<?> c : new Class<?>[] {VersionProvider.class, Torch.class}) {
            Package p = c.getPackage();
            String v = p == null ? null : p.getImplementationVersion();
            if (v != null) {
                return v;
            }
        }
        return "(development build)";
    }

    @Override
    public String[] getVersion() {
        return new String[] {line()};
    }
}
