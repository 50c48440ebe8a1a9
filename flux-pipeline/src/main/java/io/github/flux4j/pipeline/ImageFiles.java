package io.github.flux4j.pipeline;

import io.github.flux4j.FluxException;
import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.vae.RgbImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/**
 * Writes images as PNG or JPEG with {@code javax.imageio} (headless), <em>atomically</em>: the
 * bytes go to a temporary file in the target's folder, which is flushed to disk and then renamed
 * over the target. A reader never sees a half-written image, and a failed write leaves an
 * existing file untouched; temporary files that a killed process left next to the target (older
 * than an hour) are removed by the next write to it. On POSIX file systems a replaced file keeps its permissions and a new one
 * gets the usual ones (rw-rw-rw- less the umask), as if written in place.
 *
 * <pre>{@code
 * ImageFiles.save(result.image(), Path.of("out.png"));                 // format from the extension
 * ImageFiles.saveJpeg(result.image(), Path.of("out.jpg"), 0.9f);
 * }</pre>
 */
public final class ImageFiles {
    /** The JPEG quality {@link #save(RgbImage, Path)} uses: high, visually lossless for most images. */
    public static final float DEFAULT_JPEG_QUALITY = 0.95f;

    /** The formats written. */
    public enum Format {
        /** Lossless, 8-bit RGB. */
        PNG,
        /** Lossy, baseline JPEG with a chosen quality. */
        JPEG;

        /**
         * The format a file name asks for: {@code .png}, or {@code .jpg} / {@code .jpeg} (any case).
         *
         * @throws IllegalArgumentException for any other extension
         */
        public static Format forFile(Path file) {
            Path name = file.getFileName();
            String n = name == null ? "" : name.toString().toLowerCase(Locale.ROOT);
            if (n.endsWith(".png")) {
                return PNG;
            }
            if (n.endsWith(".jpg") || n.endsWith(".jpeg")) {
                return JPEG;
            }
            throw new IllegalArgumentException(
                    "cannot tell the image format of '" + file + "': use a .png, .jpg or .jpeg file name");
        }
    }

    private ImageFiles() {}

    /**
     * Writes {@code image} in the format of {@code file}'s extension (JPEG at
     * {@link #DEFAULT_JPEG_QUALITY}), atomically.
     *
     * @return {@code file}
     * @throws IllegalArgumentException if the extension is not .png, .jpg or .jpeg
     * @throws FluxIoException          if the file cannot be written; its cause is a
     *                                  {@link NoSuchFileException} if the folder does not exist
     */
    public static Path save(RgbImage image, Path file) {
        return save(image, file, Format.forFile(file), DEFAULT_JPEG_QUALITY);
    }

    /**
     * Writes a PNG, atomically.
     *
     * @throws FluxIoException if the file cannot be written
     */
    public static Path savePng(RgbImage image, Path file) {
        return save(image, file, Format.PNG, DEFAULT_JPEG_QUALITY);
    }

    /**
     * Writes a JPEG of the given quality, atomically.
     *
     * @param quality 0 (smallest) to 1 (best)
     * @throws IllegalArgumentException if {@code quality} is outside [0, 1]
     * @throws FluxIoException          if the file cannot be written
     */
    public static Path saveJpeg(RgbImage image, Path file, float quality) {
        return save(image, file, Format.JPEG, quality);
    }

    /**
     * Writes {@code image} to {@code file} in {@code format}, atomically (see the class comment).
     *
     * @param jpegQuality 0 to 1, used for JPEG only
     * @return {@code file}
     * @throws IllegalArgumentException if {@code jpegQuality} is outside [0, 1]
     * @throws FluxIoException          if the file cannot be written; its cause is a
     *                                  {@link NoSuchFileException} if the folder does not exist
     */
    public static Path save(RgbImage image, Path file, Format format, float jpegQuality) {
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(format, "format");
        checkQuality(jpegQuality);
        byte[] bytes = encode(image, format, jpegQuality);
        try {
            return write(bytes, file);
        } catch (IOException e) {
            throw FluxIoException.of(file, e);
        }
    }

    private static Path write(byte[] bytes, Path file) throws IOException {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new NoSuchFileException(String.valueOf(dir), null, "cannot write " + file + ": no such folder");
        }
        removeStaleTemporaries(dir, target);
        Path tmp = createTemp(dir, target);
        try {
            try (FileChannel ch =
                            FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                    OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                out.write(bytes);
                out.flush();
                ch.force(true); // on disk before the rename makes it visible
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return file;
    }

    /**
     * How old a temporary file of a write to the same target must be to count as left behind by a
     * killed process: writing an image takes milliseconds to seconds, so an hour-old one is stale.
     */
    static final Duration STALE_TEMPORARY_AGE = Duration.ofHours(1);

    /**
     * Deletes {@code .NAME.<digits>.tmp} files of earlier writes to {@code target} that a killed
     * process left behind (older than {@link #STALE_TEMPORARY_AGE}: a younger one may belong to a
     * write in progress). Best effort: a failure leaves them.
     */
    private static void removeStaleTemporaries(Path dir, Path target) {
        String prefix = "." + target.getFileName() + ".";
        Instant limit = Instant.now().minus(STALE_TEMPORARY_AGE);
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, p -> {
            String n = p.getFileName().toString();
            return n.startsWith(prefix)
                    && n.endsWith(".tmp")
                    && n.substring(prefix.length(), n.length() - ".tmp".length())
                            .chars()
                            .allMatch(Character::isDigit);
        })) {
            for (Path p : s) {
                try {
                    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
                            && Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS)
                                    .toInstant()
                                    .isBefore(limit)) {
                        Files.deleteIfExists(p);
                    }
                } catch (IOException e) {
                    // best effort
                }
            }
        } catch (IOException | DirectoryIteratorException e) {
            // best effort: an unreadable folder will fail the write itself, with a clear message
        }
    }

    /**
     * A temporary file next to {@code target} with the permissions the image should end with: on
     * POSIX file systems, an existing target's, else those of a file created with
     * {@link Files#newOutputStream} (rw-rw-rw- less the umask, usually rw-r--r--), not the
     * owner-only rw------- of {@link Files#createTempFile(Path, String, String, FileAttribute[])}.
     */
    private static Path createTemp(Path dir, Path target) throws IOException {
        String prefix = "." + target.getFileName() + ".";
        if (!Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class)) {
            return Files.createTempFile(dir, prefix, ".tmp");
        }
        // The mode is given to open(2), which applies the umask.
        Path tmp = Files.createTempFile(
                dir,
                prefix,
                ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-rw-rw-")));
        try {
            Set<PosixFilePermission> existing = Files.getPosixFilePermissions(target);
            Files.setPosixFilePermissions(tmp, existing);
        } catch (NoSuchFileException e) {
            // a new file: the umask's permissions
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return tmp;
    }

    /**
     * The encoded file contents of {@code image} in {@code format}.
     *
     * @param jpegQuality 0 to 1, used for JPEG only
     * @throws IllegalArgumentException if {@code jpegQuality} is outside [0, 1]
     * @throws FluxException            if this JDK has no ImageIO writer for the format
     * @throws FluxIoException          if the ImageIO writer fails
     */
    public static byte[] encode(RgbImage image, Format format, float jpegQuality) {
        checkQuality(jpegQuality);
        String name = format == Format.PNG ? "png" : "jpeg";
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName(name);
        if (!writers.hasNext()) {
            throw new FluxException("no ImageIO writer for " + name + " images in this JDK");
        }
        try {
            return encode(image, format, jpegQuality, writers.next());
        } catch (IOException e) {
            throw new FluxIoException("cannot encode a " + name + " image: " + e.getMessage(), e);
        }
    }

    private static byte[] encode(RgbImage image, Format format, float jpegQuality, ImageWriter writer)
            throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(buf)) {
            writer.setOutput(out);
            ImageWriteParam param = writer.getDefaultWriteParam();
            if (format == Format.JPEG) {
                param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                param.setCompressionQuality(jpegQuality);
            }
            writer.write(null, new IIOImage(image.toBufferedImage(), null, null), param);
        } finally {
            writer.dispose();
        }
        return buf.toByteArray();
    }

    private static void checkQuality(float q) {
        if (!(q >= 0f && q <= 1f)) {
            throw new IllegalArgumentException("JPEG quality must be in [0, 1], got " + q);
        }
    }
}
