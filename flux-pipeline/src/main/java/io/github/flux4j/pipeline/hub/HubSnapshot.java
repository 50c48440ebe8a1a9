package io.github.flux4j.pipeline.hub;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Files of one repository revision in the local cache, as {@link HubFiles#resolve} made sure of.
 *
 * @param repoId the repository ({@code org/name})
 * @param commit the commit the revision resolved to (40 hex digits)
 * @param folder the snapshot folder, {@code <hub>/models--org--name/snapshots/<commit>}
 * @param files  the files asked for, as paths in {@code folder} (symbolic links into {@code blobs/}),
 *               sorted by their path in the repository
 */
public record HubSnapshot(String repoId, String commit, Path folder, List<Path> files) {
    /** Checks presence, copies the list. */
    public HubSnapshot {
        Objects.requireNonNull(repoId, "repoId");
        Objects.requireNonNull(commit, "commit");
        Objects.requireNonNull(folder, "folder");
        files = List.copyOf(files);
    }
}
