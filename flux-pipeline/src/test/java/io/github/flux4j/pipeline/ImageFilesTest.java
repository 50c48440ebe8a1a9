package io.github.flux4j.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.flux4j.FluxIoException;
import io.github.flux4j.core.vae.RgbImage;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFilesTest {
    @TempDir
    Path dir;

    static RgbImage gradient(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * 3;
                rgb[i] = (byte) (x * 255 / w);
                rgb[i + 1] = (byte) (y * 255 / h);
                rgb[i + 2] = (byte) ((x * y) & 0xFF);
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** Temporary files a killed process left next to the target are removed by the next write to it. */
    @Test
    void staleTemporaryFilesOfTheSameTargetAreRemoved() throws IOException {
        Path stale = Files.writeString(dir.resolve(".x.png.123456789.tmp"), "half an image");
        Path fresh = Files.writeString(dir.resolve(".x.png.987654321.tmp"), "a write in progress");
        Path other = Files.writeString(dir.resolve(".y.png.123456789.tmp"), "another target's");
        Path notOurs = Files.writeString(dir.resolve(".x.png.notes.tmp"), "not a temporary image");
        FileTime old = FileTime.from(
                Instant.now().minus(ImageFiles.STALE_TEMPORARY_AGE).minusSeconds(60));
        for (Path p : List.of(stale, other, notOurs)) {
            Files.setLastModifiedTime(p, old);
        }
        ImageFiles.save(gradient(8, 8), dir.resolve("x.png"));
        assertThat(stale).doesNotExist();
        assertThat(fresh).exists();
        assertThat(other).exists();
        assertThat(notOurs).exists();
        assertThat(dir.resolve("x.png")).exists();
    }

    @Test
    void pngIsLossless() throws IOException {
        RgbImage img = gradient(48, 32);
        Path file = ImageFiles.save(img, dir.resolve("a.PNG"));
        BufferedImage back = ImageIO.read(file.toFile());
        assertThat(back.getWidth()).isEqualTo(48);
        assertThat(back.getHeight()).isEqualTo(32);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 48; x++) {
                assertThat(back.getRGB(x, y) & 0xFFFFFF).isEqualTo(img.rgbAt(x, y));
            }
        }
        assertThat(onlyFiles()).containsExactly("a.PNG");
    }

    @Test
    void jpegQualityChangesTheSizeAndTheFormatFollowsTheExtension() throws IOException {
        RgbImage img = gradient(64, 64);
        Path lo = ImageFiles.saveJpeg(img, dir.resolve("lo.jpg"), 0.1f);
        Path hi = ImageFiles.saveJpeg(img, dir.resolve("hi.jpg"), 1.0f);
        assertThat(Files.size(lo)).isLessThan(Files.size(hi));
        Path byName = ImageFiles.save(img, dir.resolve("x.jpeg"));
        assertThat(Files.readAllBytes(byName)).startsWith((byte) 0xFF, (byte) 0xD8); // JPEG SOI
        assertThat(Files.readAllBytes(ImageFiles.savePng(img, dir.resolve("p.bin"))))
                .startsWith((byte) 0x89, (byte) 'P');
        assertThat(ImageFiles.Format.forFile(Path.of("a/b.JPG"))).isEqualTo(ImageFiles.Format.JPEG);
    }

    @Test
    void writesReplaceAtomicallyAndLeaveNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("out.png");
        Files.writeString(file, "old");
        ImageFiles.save(gradient(16, 16), file);
        assertThat(ImageIO.read(file.toFile()).getWidth()).isEqualTo(16);
        assertThat(onlyFiles()).containsExactly("out.png");
    }

    @Test
    void filesGetTheUsualPermissionsOrKeepTheirs() throws IOException {
        assumeTrue(Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class), "POSIX only");
        // What a file written in place gets: rw-rw-rw- less this process's umask (not rw------- as a temp file).
        Path plain = dir.resolve("plain.bin");
        Files.newOutputStream(plain).close();
        Path file = ImageFiles.save(gradient(16, 16), dir.resolve("new.png"));
        assertThat(Files.getPosixFilePermissions(file))
                .isEqualTo(Files.getPosixFilePermissions(plain))
                .contains(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        // A replaced file keeps its permissions.
        Path existing = dir.resolve("existing.jpg");
        Files.writeString(existing, "old");
        Set<PosixFilePermission> mode = PosixFilePermissions.fromString("rw-r-----");
        Files.setPosixFilePermissions(existing, mode);
        ImageFiles.save(gradient(16, 16), existing);
        assertThat(Files.getPosixFilePermissions(existing)).isEqualTo(mode);
        assertThat(Files.readAllBytes(existing)).startsWith((byte) 0xFF, (byte) 0xD8);
        assertThat(onlyFiles()).containsExactly("existing.jpg", "new.png", "plain.bin");
    }

    @Test
    void badArgumentsAreRefusedAndTouchNothing() throws IOException {
        RgbImage img = gradient(16, 16);
        assertThatThrownBy(() -> ImageFiles.save(img, dir.resolve("out.gif")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(".png, .jpg or .jpeg");
        assertThatThrownBy(() -> ImageFiles.saveJpeg(img, dir.resolve("q.jpg"), 1.5f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("JPEG quality");
        assertThatThrownBy(() -> ImageFiles.save(img, dir.resolve("missing/out.png")))
                .isInstanceOf(FluxIoException.class)
                .hasCauseInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("no such folder");
        assertThat(onlyFiles()).isEmpty();
    }

    private String[] onlyFiles() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        }
    }
}
