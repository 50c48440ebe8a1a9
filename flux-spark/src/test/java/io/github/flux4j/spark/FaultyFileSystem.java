package io.github.flux4j.spark;

import io.github.flux4j.spark.output.AtomicFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The local file system under the scheme {@code faulty:}, which kills one write mid-way: the
 * first write of a file whose name starts with {@link #failOn} stops with an IOException after
 * half of its bytes, and its temporary file survives the writer's cleanup (as if the executor
 * died), so the batch must retry the task and clean up after it.
 */
public final class FaultyFileSystem extends RawLocalFileSystem {
    static final String SCHEME = "faulty";
    /** The name prefix of the file to fail (null: none). */
    static final AtomicReference<String> failOn = new AtomicReference<>();
    /** Set once the write failed. */
    static final AtomicBoolean failed = new AtomicBoolean();

    private static final AtomicReference<Path> leftBehind = new AtomicReference<>();

    @Override
    public URI getUri() {
        return URI.create(SCHEME + ":///");
    }

    @Override
    public String getScheme() {
        return SCHEME;
    }

    @Override
    public FSDataOutputStream create(
            Path f, boolean overwrite, int bufferSize, short replication, long blockSize, Progressable progress)
            throws IOException {
        FSDataOutputStream real = super.create(f, overwrite, bufferSize, replication, blockSize, progress);
        String prefix = failOn.get();
        if (prefix == null || !f.getName().startsWith("." + prefix) || !failed.compareAndSet(false, true)) {
            return real;
        }
        leftBehind.set(f);
        return new FSDataOutputStream(
                new OutputStream() {
                    private int written;

                    @Override
                    public void write(int b) throws IOException {
                        write(new byte[] {(byte) b}, 0, 1);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        int half = len / 2;
                        real.write(b, off, half);
                        written += half;
                        real.hflush();
                        throw new IOException("injected failure after " + written + " bytes of " + f);
                    }

                    @Override
                    public void close() throws IOException {
                        real.close();
                    }
                },
                null);
    }

    @Override
    public FSDataOutputStream create(
            Path f,
            FsPermission permission,
            boolean overwrite,
            int bufferSize,
            short replication,
            long blockSize,
            Progressable progress)
            throws IOException {
        return create(f, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public boolean delete(Path p, boolean recursive) throws IOException {
        Path left = leftBehind.get();
        if (left != null
                && p.getName().equals(left.getName())
                && p.getName().endsWith(AtomicFiles.TEMP_SUFFIX)
                && leftBehind.compareAndSet(left, null)) {
            return false; // the killed writer's cleanup never ran
        }
        return super.delete(p, recursive);
    }
}
