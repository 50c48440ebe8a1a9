package io.github.flux4j.core.nn;

import io.github.flux4j.core.cuda.CudaKernels;
import io.github.flux4j.core.quant.DequantArithmetic;
import io.github.flux4j.core.quant.TorchDequantizer;
import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.util.Optional;
import java.util.function.BiConsumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.jspecify.annotations.Nullable;

/**
 * A linear layer whose weight stays in its packed GGML form on the device and is dequantized to
 * the compute dtype on every {@link #forward}, then used in one {@code at::linear}: diffusers'
 * {@code GGUFLinear.forward_native} (and ComfyUI-GGUF's), which keeps device memory at the
 * quantized size at the cost of the expansion per call. The expanded weight is a temporary, freed
 * before {@code forward} returns.
 */
public final class QuantizedLinear implements LinearOp {
    private final GgmlType type;
    private final Tensor rawBlocks;
    private final long out;
    private final long in;
    private final @Nullable Tensor bias;
    private final ScalarType computeDtype;
    private final DequantArithmetic arithmetic;
    private final WeightExpansion expansion;
    /** The path chosen on the first forward on the current device; null before it (or after a move). */
    private WeightExpansion.@Nullable Path path;
    /** The expanded weight kept under {@link WeightExpansion.Path#CACHED}, else null. */
    private @Nullable Tensor cached;

    private long cachedBytes;
    private boolean closed;

    /**
     * Wraps the packed weight and takes ownership of {@code rawBlocks} and {@code bias} (retained
     * here, freed by {@link #close()}; do not close them yourself).
     *
     * @param type the GGML type of the blocks (any type {@link TorchDequantizer} supports)
     * @param rawBlocks uint8 tensor of {@code type.byteSize(out * in)} bytes on the compute device:
     *     {@code out} rows of {@code in / blockSize} blocks, as stored in GGUF
     * @param outFeatures rows of the weight
     * @param inFeatures columns of the weight; a multiple of the block size
     * @param bias {@code [out]} in {@code computeDtype} on the same device, or null
     * @param computeDtype the dtype weights are expanded to and inputs must have
     * @param arithmetic how the expansion rounds ({@link DequantArithmetic#FLOAT16_LIKE_DIFFUSERS}
     *     to reproduce diffusers' weights bit for bit)
     * @throws UnsupportedGgufTypeException if {@code type} cannot be dequantized
     * @throws IllegalArgumentException if sizes or dtypes do not fit together
     */
    public QuantizedLinear(
            GgmlType type,
            Tensor rawBlocks,
            long outFeatures,
            long inFeatures,
            @Nullable Tensor bias,
            ScalarType computeDtype,
            DequantArithmetic arithmetic) {
        this(type, rawBlocks, outFeatures, inFeatures, bias, computeDtype, arithmetic, WeightExpansion.defaults());
    }

    /**
     * As {@link #QuantizedLinear(GgmlType, Tensor, long, long, Tensor, ScalarType, DequantArithmetic)},
     * with the model's expansion policy (kernels, resident cache).
     */
    public QuantizedLinear(
            GgmlType type,
            Tensor rawBlocks,
            long outFeatures,
            long inFeatures,
            @Nullable Tensor bias,
            ScalarType computeDtype,
            DequantArithmetic arithmetic,
            WeightExpansion expansion) {
        if (!TorchDequantizer.isSupported(type)) {
            throw new UnsupportedGgufTypeException(type, null, "QuantizedLinear");
        }
        if (outFeatures <= 0 || inFeatures <= 0) {
            throw new IllegalArgumentException(
                    "features must be positive, got out=" + outFeatures + ", in=" + inFeatures);
        }
        if (inFeatures % type.blockSize() != 0) {
            throw new IllegalArgumentException(
                    "inFeatures " + inFeatures + " is not a multiple of " + type + "'s block size " + type.blockSize());
        }
        if (Torch.dtype(rawBlocks) != ScalarType.Byte) {
            throw new IllegalArgumentException("rawBlocks must be uint8 (Byte), got " + Torch.dtype(rawBlocks));
        }
        long expected = type.byteSize(Math.multiplyExact(outFeatures, inFeatures));
        if (rawBlocks.numel() != expected) {
            throw new IllegalArgumentException("rawBlocks holds " + rawBlocks.numel() + " bytes but a " + outFeatures
                    + "x" + inFeatures + " " + type + " weight needs " + expected);
        }
        ScalarType dtype = computeDtype.intern();
        if (bias != null) {
            if (bias.dim() != 1 || bias.size(0) != outFeatures) {
                throw new IllegalArgumentException(
                        "bias must be [" + outFeatures + "], got " + LinearChecks.shape(bias));
            }
            if (Torch.dtype(bias) != dtype) {
                throw new IllegalArgumentException(
                        "bias dtype " + Torch.dtype(bias) + " differs from computeDtype " + dtype);
            }
        }
        this.type = type;
        this.out = outFeatures;
        this.in = inFeatures;
        this.computeDtype = dtype;
        this.arithmetic = arithmetic;
        this.expansion = expansion;
        this.rawBlocks = Scopes.keep(rawBlocks);
        this.bias = bias == null ? null : Scopes.keep(bias);
    }

    @Override
    public Tensor forward(Tensor x) {
        return apply(x, false);
    }

    @Override
    public Tensor forwardGeluTanh(Tensor x) {
        return apply(x, true);
    }

    /** {@code x W^T + b} through this weight's path, then (if {@code gelu}) the tanh GELU. */
    private Tensor apply(Tensor x, boolean gelu) {
        checkOpen();
        LinearChecks.checkInput("QuantizedLinear(" + type + ")", x, in, computeDtype);
        return Scopes.scoped(() -> {
            Tensor w = weightForForward();
            Optional<CudaKernels> mv = expansion.matvecFor(path, rawBlocks, type, x, in);
            if (mv.isPresent()) {
                Tensor h = mv.get().matvec(rawBlocks, type, out, in, x, bias, arithmetic);
                if (gelu) {
                    Functional.geluTanhInto(h, h);
                }
                return h;
            }
            Tensor dense = w != null ? w : expand();
            return gelu ? Functional.linearGeluTanh(x, dense, bias) : Functional.linear(x, dense, bias);
        });
    }

    /**
     * One GEMM per column group over the expanded (or resident) weight ({@link Functional#linearSplit});
     * inputs of a few rows go through {@link #forward} (the fused matvec where it applies) and are
     * split after it.
     */
    @Override
    public Tensor[] forwardSplit(Tensor x, long[] widths, boolean[] gelu) {
        checkOpen();
        LinearChecks.checkInput("QuantizedLinear(" + type + ")", x, in, computeDtype);
        LinearChecks.checkSplit(widths, gelu, out);
        Tensor w = weightForForward();
        // a few rows: forward (which takes the fused matvec where it applies), then slices
        if (w == null && fewRows(x)) {
            return LinearOp.super.forwardSplit(x, widths, gelu);
        }
        return Scopes.scopedAll(() -> Functional.linearSplit(x, w != null ? w : expand(), bias, widths, gelu));
    }

    /**
     * One GEMM per part over the columns of the expanded (or resident) weight, added into one output
     * ({@link Functional#linearJoined}); inputs of a few rows take the fused matvec over the concatenation.
     */
    @Override
    public Tensor forwardJoined(Tensor... parts) {
        checkOpen();
        LinearChecks.checkJoined("QuantizedLinear(" + type + ")", parts, in, computeDtype);
        Tensor w = weightForForward();
        // a few rows: forward over the (then small) concatenation, which takes the fused matvec
        // where it applies
        if (w == null && fewRows(parts[0])) {
            return LinearOp.super.forwardJoined(parts);
        }
        return Scopes.scoped(() -> Functional.linearJoined(parts, w != null ? w : expand(), bias));
    }

    /**
     * Whether {@code x} has so few rows that the fused matvec may take it (then the split and joined
     * forms go through {@link #forward}, one decision for both; the cost of their slicing or
     * concatenation is negligible at that size).
     */
    private static boolean fewRows(Tensor x) {
        return x.numel() <= CudaKernels.MATVEC_MAX_ROWS * x.size(-1);
    }

    /**
     * Chooses the path on the first forward; returns the resident expanded weight (CACHED), or
     * null: the caller then expands (or runs the fused matvec, which needs no expansion).
     */
    private synchronized @Nullable Tensor weightForForward() {
        if (path == null) {
            long numel = out * in;
            long bytes = numel * (computeDtype == ScalarType.Float ? 4 : 2);
            path = expansion.choose(rawBlocks, type, numel, computeDtype, bytes);
            if (path == WeightExpansion.Path.CACHED) {
                try (PointerScope scope = new PointerScope()) {
                    cached = Scopes.keep(expand());
                    cachedBytes = bytes;
                } catch (RuntimeException | Error e) {
                    expansion.release(bytes);
                    path = null;
                    throw e;
                }
            }
        }
        return cached;
    }

    /** The path this layer's weight takes on its device; null before the first forward there. */
    public synchronized WeightExpansion.@Nullable Path expansionPath() {
        return path;
    }

    /**
     * Frees the resident expanded weight, if any, and forgets the chosen path: called before the
     * packed blocks move to another device (the next forward chooses again there).
     */
    public synchronized void dropExpandedWeight() {
        if (cached != null) {
            Scopes.release(cached);
            cached = null;
            expansion.release(cachedBytes);
            cachedBytes = 0;
        }
        path = null;
    }

    /**
     * The dense weight {@code [out, in]} in the compute dtype, exactly as {@link #forward} uses it;
     * owned by the caller's enclosing scope (or the caller). For tests and for callers that want
     * to cache the expansion.
     */
    public Tensor dequantizeWeight() {
        checkOpen();
        return expand();
    }

    private Tensor expand() {
        return expansion.expand(rawBlocks, type, new long[] {out, in}, computeDtype, arithmetic);
    }

    /** The packed blocks; still owned by this layer (do not close them). */
    public Tensor rawBlocks() {
        checkOpen();
        return rawBlocks;
    }

    /** The bias or null; still owned by this layer. */
    public @Nullable Tensor bias() {
        checkOpen();
        return bias;
    }

    /** The dtype weights are expanded to. */
    public ScalarType computeDtype() {
        return computeDtype;
    }

    /** How the expansion rounds. */
    public DequantArithmetic arithmetic() {
        return arithmetic;
    }

    @Override
    public long inFeatures() {
        return in;
    }

    @Override
    public long outFeatures() {
        return out;
    }

    /** The type the blocks are stored in. */
    @Override
    public GgmlType quantType() {
        return type;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            dropExpandedWeight();
            Scopes.release(rawBlocks);
            Scopes.release(bias);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("QuantizedLinear(" + type + ") is closed");
        }
    }

    /** {@code weight} (the packed blocks), then {@code bias} if present (block streaming re-points them). */
    @Override
    public void forEachParameter(BiConsumer<String, Tensor> visitor) {
        checkOpen();
        visitor.accept("weight", rawBlocks);
        if (bias != null) {
            visitor.accept("bias", bias);
        }
    }
}
