package io.github.flux4j.gguf;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * Unmaps a file region at once, instead of when the garbage collector finds its buffer
 * unreachable.
 *
 * <p>flux4j's readers ({@link GgufFile#tensorData}, {@code SafetensorsFile.data}) map each
 * tensor's region anew, and a loader copies it into memory of its own. Until the mapping goes,
 * every page read stays in the process's resident set beside the copy; the JDK unmaps only after
 * a collection, which a load that allocates almost nothing on the heap rarely triggers (a 2.6 GiB
 * GGUF load left 0.61 GiB mapped). Java 17 has no public unmap; this uses
 * {@code sun.misc.Unsafe.invokeCleaner} (module {@code jdk.unsupported}), which Lucene and Netty
 * use for the same purpose, and reports {@code false} where it is unavailable.
 */
public final class MappedRegions {
    private static final @Nullable Object UNSAFE;
    private static final @Nullable Method INVOKE_CLEANER;

    static {
        Object unsafe = null;
        Method invoke = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            unsafe = f.get(null);
            invoke = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // no jdk.unsupported (a jlink'd runtime without it): the garbage collector unmaps
            unsafe = null;
            invoke = null;
        }
        UNSAFE = unsafe;
        INVOKE_CLEANER = invoke;
    }

    private MappedRegions() {}

    /**
     * Unmaps {@code buffer}'s region now. Only for a buffer that {@code FileChannel.map} returned
     * (not a slice or duplicate of one, which are left to the garbage collector), that nothing
     * will read again: a read after the unmap crashes the JVM.
     *
     * @return true if the region was unmapped now; false if it is left to the garbage collector
     *     (not a mapped buffer, a slice or duplicate, or no {@code jdk.unsupported})
     */
    public static boolean unmap(ByteBuffer buffer) {
        if (!(buffer instanceof MappedByteBuffer) || UNSAFE == null || INVOKE_CLEANER == null) {
            return false;
        }
        try {
            INVOKE_CLEANER.invoke(UNSAFE, buffer);
            return true;
        } catch (InvocationTargetException e) {
            // IllegalArgumentException: a slice or duplicate, whose cleaner is its parent's
            return false;
        } catch (IllegalAccessException e) {
            return false;
        }
    }
}
