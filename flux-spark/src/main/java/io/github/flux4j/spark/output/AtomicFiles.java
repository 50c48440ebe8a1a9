package io.github.flux4j.spark.output;

import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PathFilter;

/**
 * Whole-file writes through Hadoop's {@link FileSystem} that a reader never sees half done.
 *
 * <ul>
 *   <li>On file systems with an atomic rename (local, HDFS, ABFS, ...) the bytes go to a hidden
 *       temporary file in the target's folder ({@code .NAME.TAG.flux4j.tmp}), which is synced
 *       and renamed onto the target. Two writers of the same target (a task and its speculative
 *       copy) write different temporary files; the last rename wins, and since a batch writes the
 *       same bytes for the same name, either result is the same file.</li>
 *   <li>On object stores ({@code s3a}, {@code s3}, {@code s3n}, {@code gs}) an object becomes
 *       visible only when its upload completes, and a rename is a copy: the bytes are written to
 *       the target directly.</li>
 * </ul>
 * On the local file system the raw file system is used, so no {@code .crc} files are written
 * next to the images.
 */
public final class AtomicFiles {
    /** The suffix of temporary files; {@link #deleteTemporaries} removes what a killed writer left. */
    public static final String TEMP_SUFFIX = ".flux4j.tmp";
    /** Schemes whose objects appear only when complete, and whose rename is a copy. */
    public static final Set<String> OBJECT_STORE_SCHEMES = Set.of("s3a", "s3", "s3n", "gs");

    private static final PathFilter TEMPORARY =
            p -> p.getName().startsWith(".") && p.getName().endsWith(TEMP_SUFFIX);

    private AtomicFiles() {}

    /** The file system to write {@code path} with: the raw one for the local file system (no .crc files). */
    public static FileSystem fileSystem(Path path, org.apache.hadoop.conf.Configuration conf) throws IOException {
        FileSystem fs = path.getFileSystem(conf);
        return fs instanceof ChecksumFileSystem c ? c.getRawFileSystem() : fs;
    }

    /**
     * Writes {@code bytes} to {@code target}, replacing it, atomically (see the class comment).
     * The target's folder is created if needed. A failed write leaves the target as it was and
     * deletes its temporary file.
     *
     * @param tag makes the temporary file's name unique to this writer (e.g. the task attempt)
     */
    public static void write(FileSystem fs, Path target, byte[] bytes, String tag) throws IOException {
        Objects.requireNonNull(bytes, "bytes");
        Path dir = target.getParent();
        if (dir != null) {
            fs.mkdirs(dir);
        }
        if (isObjectStore(fs)) {
            try (FSDataOutputStream out = fs.create(target, true)) {
                out.write(bytes);
            }
            return;
        }
        Path tmp = new Path(dir, "." + target.getName() + "." + tag.replaceAll("[^A-Za-z0-9_-]", "_") + TEMP_SUFFIX);
        boolean moved = false;
        try {
            try (FSDataOutputStream out = fs.create(tmp, true)) {
                out.write(bytes);
                out.hsync(); // on disk before the rename makes it visible
            }
            if (fs.rename(tmp, target)) {
                moved = true;
                return;
            }
            // HDFS's rename does not replace an existing file. The same bytes (another attempt's
            // work) are kept; different ones (a changed request) are replaced.
            if (fs.exists(target)) {
                if (Arrays.equals(readFully(fs, target, bytes.length + 1L), bytes)) {
                    return;
                }
                fs.delete(target, false);
                if (fs.rename(tmp, target)) {
                    moved = true;
                    return;
                }
            }
            throw new IOException("cannot move " + tmp + " to " + target + " (" + fs.getScheme() + " rename failed)");
        } finally {
            if (!moved) {
                fs.delete(tmp, false);
            }
        }
    }

    /**
     * The bytes of {@code file}.
     *
     * @param limit the most bytes read
     * @throws IOException if the file is larger than {@code limit} or cannot be read
     */
    public static byte[] readFully(FileSystem fs, Path file, long limit) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (InputStream in = fs.open(file)) {
            byte[] chunk = new byte[1 << 16];
            for (int n; (n = in.read(chunk)) > 0; ) {
                buf.write(chunk, 0, n);
                if (buf.size() > limit) {
                    break;
                }
            }
        }
        return buf.toByteArray();
    }

    /**
     * Deletes the temporary files in {@code dir} that writers killed before their cleanup left
     * behind. Call it when no writer is running (after the batch's job).
     *
     * @return how many were deleted
     */
    public static int deleteTemporaries(FileSystem fs, Path dir) throws IOException {
        if (isObjectStore(fs)) {
            return 0; // nothing temporary is ever written there
        }
        FileStatus[] left;
        try {
            left = fs.listStatus(dir, TEMPORARY);
        } catch (FileNotFoundException e) {
            return 0;
        }
        int n = 0;
        for (FileStatus f : left) {
            if (fs.delete(f.getPath(), false)) {
                n++;
            }
        }
        return n;
    }

    private static boolean isObjectStore(FileSystem fs) {
        String scheme = fs.getUri().getScheme();
        return scheme != null && OBJECT_STORE_SCHEMES.contains(scheme.toLowerCase(Locale.ROOT));
    }
}
