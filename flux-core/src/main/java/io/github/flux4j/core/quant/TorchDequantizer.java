package io.github.flux4j.core.quant;

import io.github.flux4j.core.torch.Scopes;
import io.github.flux4j.core.torch.Torch;
import io.github.flux4j.gguf.GgmlType;
import io.github.flux4j.gguf.UnsupportedGgufTypeException;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.MemoryFormat;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Dequantizes GGML blocks with LibTorch tensor operations, on whatever device the bytes are on.
 *
 * <p>The packed bytes are viewed as {@code [nBlocks, typeSize]}; each field (scales, minimums, bit
 * planes) is a {@code narrow} of that view, nibbles and bit fields are unpacked for all blocks at
 * once with broadcast shifts and masks on uint8 tensors, and the IQ4 codebook is an
 * {@code index_select}. There is no per-element Java code, so the same call runs on a GPU.
 *
 * <p>With {@link DequantArithmetic#EXACT_FLOAT32} (the default) the arithmetic is float32 in
 * gguf-py's operation order, so a float32 result is bit-identical to {@code gguf.quants.dequantize}
 * and to flux-gguf's {@code Dequantizer}; other output dtypes are that result rounded once
 * (round-to-nearest-even). {@link DequantArithmetic#FLOAT16_LIKE_DIFFUSERS} reproduces diffusers'
 * float16 arithmetic instead.
 *
 * <p>Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL,
 * IQ4_XS. The block layouts follow gguf-py's {@code quants.py} (see also the spec's §4.2).
 *
 * <p>Memory: temporaries live in an inner {@link org.bytedeco.javacpp.PointerScope} that is closed
 * before returning; the result belongs to the caller's scope (see {@link Scopes#scoped}). The peak
 * is a few times the float32 size of the weight, transiently.
 */
public final class TorchDequantizer {
    private static final Set<GgmlType> SUPPORTED = EnumSet.of(
            GgmlType.F32,
            GgmlType.F16,
            GgmlType.BF16,
            GgmlType.Q4_0,
            GgmlType.Q4_1,
            GgmlType.Q5_0,
            GgmlType.Q5_1,
            GgmlType.Q8_0,
            GgmlType.Q2_K,
            GgmlType.Q3_K,
            GgmlType.Q4_K,
            GgmlType.Q5_K,
            GgmlType.Q6_K,
            GgmlType.IQ4_NL,
            GgmlType.IQ4_XS);

    private static final Set<ScalarType> OUTPUT_TYPES =
            EnumSet.of(ScalarType.Float, ScalarType.Half, ScalarType.BFloat16, ScalarType.Double);

    /** IQ4_NL / IQ4_XS codebook (ggml's kvalues_iq4nl). */
    private static final float[] IQ4_VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113
    };

    /**
     * The codebook per device, uploaded once: a per-call host-to-device copy would synchronise
     * the CUDA stream on every forward. Entries are retained so no scope frees them; they live as
     * long as the process.
     */
    private static final Map<String, Tensor> IQ4_TABLES = new ConcurrentHashMap<>();

    private TorchDequantizer() {}

    /** Whether {@link #dequantize} handles {@code type}. */
    public static boolean isSupported(GgmlType type) {
        return SUPPORTED.contains(type);
    }

    /**
     * Dequantizes with {@link DequantArithmetic#EXACT_FLOAT32}; see
     * {@link #dequantize(Tensor, GgmlType, long[], ScalarType, DequantArithmetic)}.
     */
    public static Tensor dequantize(Tensor raw, GgmlType type, long[] shape, ScalarType outDtype) {
        return dequantize(raw, type, shape, outDtype, DequantArithmetic.EXACT_FLOAT32);
    }

    /**
     * Expands GGML data into a dense tensor.
     *
     * @param raw uint8 tensor (any shape, any device) holding exactly {@code type.byteSize(numel)}
     *     bytes: consecutive blocks, as stored in a GGUF file
     * @param type the GGML type of the bytes
     * @param shape the logical (row-major, torch-order) shape of the result; for block types its
     *     last dimension must be a multiple of the block size (rows are whole blocks)
     * @param outDtype Float, Half, BFloat16 or Double
     * @param arithmetic the rounding behaviour to reproduce
     * @return a new tensor of {@code shape} and {@code outDtype} on {@code raw}'s device, owned by
     *     the enclosing PointerScope (or by the caller if none). For F32/F16/BF16 data whose dtype
     *     already equals {@code outDtype} it may be a view sharing {@code raw}'s storage.
     * @throws UnsupportedGgufTypeException if {@code type} is not one of the supported types
     * @throws IllegalArgumentException if {@code raw} is not uint8, {@code shape} has a negative
     *     dimension or is not whole blocks, the byte count does not match, or {@code outDtype} is not
     *     a floating type
     */
    public static Tensor dequantize(
            Tensor raw, GgmlType type, long[] shape, ScalarType outDtype, DequantArithmetic arithmetic) {
        if (!SUPPORTED.contains(type)) {
            throw new UnsupportedGgufTypeException(type, null, "LibTorch dequantization");
        }
        ScalarType target = outDtype.intern();
        if (!OUTPUT_TYPES.contains(target)) {
            throw new IllegalArgumentException("outDtype must be Float, Half, BFloat16 or Double, got " + outDtype);
        }
        ScalarType rawType = Torch.dtype(raw);
        if (rawType != ScalarType.Byte) {
            throw new IllegalArgumentException("raw must be a uint8 (Byte) tensor, got " + rawType);
        }
        long numel = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
            }
            numel = Math.multiplyExact(numel, dim);
        }
        // GGML rows are whole blocks: a block never straddles two rows.
        if (type.isQuantized() && shape.length > 0 && shape[shape.length - 1] % type.blockSize() != 0) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + ": the last dimension of " + type
                    + " data must be a multiple of its block size " + type.blockSize());
        }
        long expectedBytes;
        try {
            expectedBytes = type.byteSize(numel);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + ": " + e.getMessage(), e);
        }
        if (raw.numel() != expectedBytes) {
            throw new IllegalArgumentException("raw holds " + raw.numel() + " bytes but " + type + " of shape "
                    + Arrays.toString(shape) + " needs " + expectedBytes);
        }
        long[] outShape = shape.clone();
        return Scopes.scoped(() -> {
            if (expectedBytes == 0) {
                return torch.empty(outShape, options(ScalarType.Float, raw.device()), null)
                        .to(target);
            }
            Tensor flat = dense(type, raw, arithmetic == DequantArithmetic.FLOAT16_LIKE_DIFFUSERS);
            return flat.reshape(outShape).to(target);
        });
    }

    /** The values as a [nBlocks, blockSize] (or flat, for plain types) floating tensor. */
    private static Tensor dense(GgmlType type, Tensor raw, boolean f16) {
        ScalarType a = f16 ? ScalarType.Half : ScalarType.Float;
        return switch (type) {
            case F32 -> plain(raw, ScalarType.Float);
            case F16 -> plain(raw, ScalarType.Half);
            case BF16 -> plain(raw, ScalarType.BFloat16);
            case Q4_0 -> q4_0(blocks(raw, type), a);
            case Q4_1 -> q4_1(blocks(raw, type), a);
            case Q5_0 -> q5_0(blocks(raw, type), a);
            case Q5_1 -> q5_1(blocks(raw, type), a);
            case Q8_0 -> q8_0(blocks(raw, type), a);
            case Q2_K -> q2_k(blocks(raw, type), a);
            case Q3_K -> q3_k(blocks(raw, type), a);
            case Q4_K -> q4_k(blocks(raw, type), a);
            case Q5_K -> q5_k(blocks(raw, type), a);
            case Q6_K -> q6_k(blocks(raw, type), a);
            case IQ4_NL -> iq4_nl(blocks(raw, type));
            case IQ4_XS -> iq4_xs(blocks(raw, type), a);
            default -> throw new UnsupportedGgufTypeException(type, null, "LibTorch dequantization");
        };
    }

    // ---- plain types -------------------------------------------------------------------------

    /** Reinterprets the bytes (a view when aligned; a byte copy first when not). */
    private static Tensor plain(Tensor raw, ScalarType dtype) {
        Tensor flat = raw.reshape(-1);
        long elementSize = dtype == ScalarType.Float ? 4 : 2;
        // view(dtype) needs the storage offset to be a multiple of the element size.
        if (flat.storage_offset() % elementSize != 0 || !flat.is_contiguous()) {
            flat = flat.clone(new MemoryFormatOptional(MemoryFormat.Contiguous));
        }
        return flat.view(dtype);
    }

    // ---- legacy 32-element blocks --------------------------------------------------------------

    /** Q4_0: d f16, qs[16]; w[j] = d*(lo(qs[j])-8), w[j+16] = d*(hi(qs[j])-8). */
    private static Tensor q4_0(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor d = half(b, 0).to(a);
        Tensor q = unpackMajor(b.narrow(1, 2, 16), 4, 2).reshape(n, 32);
        return q.to(a).sub_(s(8)).mul_(d);
    }

    /** Q4_1: d f16, m f16, qs[16]; w = (d*q) + m. */
    private static Tensor q4_1(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor d = half(b, 0).to(a);
        Tensor m = half(b, 2).to(a);
        Tensor q = unpackMajor(b.narrow(1, 4, 16), 4, 2).reshape(n, 32);
        return q.to(a).mul_(d).add_(m);
    }

    /** Q5_0: d f16, qh u32, qs[16]; q = nibble | bit_k(qh) << 4; w = d*(q-16). */
    private static Tensor q5_0(Tensor b, ScalarType a) {
        Tensor d = half(b, 0).to(a);
        Tensor q = fiveBit(b.narrow(1, 2, 4), b.narrow(1, 6, 16));
        return q.to(a).sub_(s(16)).mul_(d);
    }

    /** Q5_1: d f16, m f16, qh u32, qs[16]; w = (d*q) + m. */
    private static Tensor q5_1(Tensor b, ScalarType a) {
        Tensor d = half(b, 0).to(a);
        Tensor m = half(b, 2).to(a);
        Tensor q = fiveBit(b.narrow(1, 4, 4), b.narrow(1, 8, 16));
        return q.to(a).mul_(d).add_(m);
    }

    /** The 32 five-bit values of a Q5 block: qh's bit k (little-endian u32) is weight k's top bit. */
    private static Tensor fiveBit(Tensor qh, Tensor qs) {
        long n = qs.size(0);
        // Bit k of the LE u32 is bit k%8 of byte k/8: unpacking each byte's bits after it (minor)
        // gives index byte*8 + bit = k.
        Tensor high = unpackMinor(qh, 1, 8).reshape(n, 32);
        Tensor low = unpackMajor(qs, 4, 2).reshape(n, 32);
        return low.bitwise_or(high.bitwise_left_shift(s(4)));
    }

    /** Q8_0: d f16, qs[32] int8; w = q*d. */
    private static Tensor q8_0(Tensor b, ScalarType a) {
        Tensor d = half(b, 0).to(a);
        return b.narrow(1, 2, 32).view(ScalarType.Char).to(a).mul_(d);
    }

    // ---- K-quants (256-element super-blocks) ------------------------------------------------

    /**
     * Q2_K: scales[16], qs[64], d f16, dmin f16. Sixteen groups of 16:
     * w = (d*(sc&15))*q - (dmin*(sc>>4)).
     */
    private static Tensor q2_k(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor scales = b.narrow(1, 0, 16);
        Tensor d = half(b, 80).to(a);
        Tensor dmin = half(b, 82).to(a);
        Tensor dl = scales.bitwise_and(s(0x0F)).to(a).mul_(d).view(n, 16, 1);
        Tensor ml = scales.bitwise_right_shift(s(4)).to(a).mul_(dmin).view(n, 16, 1);
        // Each 32-byte half holds four 2-bit planes: shift 2i gives weights half*128 + i*32 + j.
        Tensor q = unpackMajor(b.narrow(1, 16, 64).reshape(n, 2, 32), 2, 4).reshape(n, 16, 16);
        return q.to(a).mul_(dl).sub_(ml).view(n, 256);
    }

    /**
     * Q3_K: hmask[32], qs[64], scales[12], d f16. Sixteen six-bit scales minus 32;
     * q = 2-bit value - 4 * (1 - hmask bit); w = (d*sc)*q.
     */
    private static Tensor q3_k(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor hmask = b.narrow(1, 0, 32);
        Tensor qs = b.narrow(1, 32, 64);
        Tensor scales = b.narrow(1, 96, 12);
        Tensor d = half(b, 108).to(a);
        // Scale i: low 4 bits from byte i%8 (low nibble for i<8, high for i>=8), high 2 bits from
        // byte 8 + i%4 at bit 2*(i/4).
        Tensor low = unpackMajor(scales.narrow(1, 0, 8), 4, 2).reshape(n, 16);
        Tensor high = unpackMajor(scales.narrow(1, 8, 4), 2, 4).reshape(n, 16);
        Tensor sc = low.bitwise_or(high.bitwise_left_shift(s(4))).to(a).sub_(s(32));
        Tensor dl = sc.mul_(d).view(n, 16, 1);
        Tensor ql = unpackMajor(qs.reshape(n, 2, 32), 2, 4).reshape(n, 16, 16);
        Tensor hbit = unpackMajor(hmask.reshape(n, 1, 32), 1, 8).reshape(n, 16, 16);
        // A set hmask bit means "no offset": subtract 4 where it is clear.
        Tensor q = ql.to(ScalarType.Char)
                .sub_(hbit.bitwise_xor(s(1)).bitwise_left_shift(s(2)).to(ScalarType.Char));
        return q.to(a).mul_(dl).view(n, 256);
    }

    /** Q4_K: d, dmin f16, scales[12], qs[128]. Eight groups of 32: w = (d*sc)*q - (dmin*m). */
    private static Tensor q4_k(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor[] dsc = kScales(b, a);
        // 32-byte chunk c: low nibbles are group 2c, high nibbles group 2c+1.
        Tensor q = unpackMajor(b.narrow(1, 16, 128).reshape(n, 4, 32), 4, 2).reshape(n, 8, 32);
        return q.to(a).mul_(dsc[0]).sub_(dsc[1]).view(n, 256);
    }

    /** Q5_K: as Q4_K plus qh[32], whose bit g of byte j is the fifth bit of weight j of group g. */
    private static Tensor q5_k(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor[] dsc = kScales(b, a);
        Tensor qh = unpackMajor(b.narrow(1, 16, 32).reshape(n, 1, 32), 1, 8).reshape(n, 8, 32);
        Tensor ql = unpackMajor(b.narrow(1, 48, 128).reshape(n, 4, 32), 4, 2).reshape(n, 8, 32);
        Tensor q = ql.bitwise_or(qh.bitwise_left_shift(s(4)));
        return q.to(a).mul_(dsc[0]).sub_(dsc[1]).view(n, 256);
    }

    /**
     * Q4_K/Q5_K group scales {@code d*sc} and offsets {@code dmin*m}, each [n, 8, 1], from the
     * 12 packed bytes at offset 4 (ggml's get_scale_min_k4, for all 8 groups at once).
     */
    private static Tensor[] kScales(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor d = half(b, 0).to(a);
        Tensor dmin = half(b, 2).to(a);
        Tensor packed = b.narrow(1, 4, 12).reshape(n, 3, 4);
        Tensor dd = packed.select(1, 0);
        Tensor mm = packed.select(1, 1);
        Tensor md = packed.select(1, 2);
        Tensor sc = torch.cat(
                new TensorVector(
                        dd.bitwise_and(s(0x3F)),
                        md.bitwise_and(s(0x0F))
                                .bitwise_or(dd.bitwise_right_shift(s(2)).bitwise_and(s(0x30)))),
                1);
        Tensor mn = torch.cat(
                new TensorVector(
                        mm.bitwise_and(s(0x3F)),
                        md.bitwise_right_shift(s(4))
                                .bitwise_or(mm.bitwise_right_shift(s(2)).bitwise_and(s(0x30)))),
                1);
        return new Tensor[] {sc.to(a).mul_(d).view(n, 8, 1), mn.to(a).mul_(dmin).view(n, 8, 1)};
    }

    /**
     * Q6_K: ql[128], qh[64], scales[16] int8, d f16. Per 128-weight half: weights l, l+32, l+64,
     * l+96 take lo(ql[l]), lo(ql[l+32]), hi(ql[l]), hi(ql[l+32]) with qh[l]'s 2-bit fields 0..3 as
     * bits 4-5; q - 32; weight i uses scale i/16; w = (d*sc)*q.
     */
    private static Tensor q6_k(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor d = half(b, 208).to(a);
        Tensor dsc = b.narrow(1, 192, 16).view(ScalarType.Char).to(a).mul_(d).view(n, 16, 1);
        Tensor ql = unpackMajor(b.narrow(1, 0, 128).reshape(n, 2, 64), 4, 2).reshape(n, 8, 32);
        Tensor qh = unpackMajor(b.narrow(1, 128, 64).reshape(n, 2, 32), 2, 4).reshape(n, 8, 32);
        Tensor q = ql.bitwise_or(qh.bitwise_left_shift(s(4))).to(a).sub_(s(32)).view(n, 16, 16);
        return q.mul_(dsc).view(n, 256);
    }

    // ---- IQ4 (non-linear codebook) -------------------------------------------------------------

    /** IQ4_NL: d f16, qs[16]; w = d * K[nibble]. Float32 in both arithmetic modes (K is float32). */
    private static Tensor iq4_nl(Tensor b) {
        long n = b.size(0);
        Tensor d = half(b, 0).to(ScalarType.Float);
        Tensor idx = unpackMajor(b.narrow(1, 2, 16), 4, 2).reshape(n, 32);
        return lookup(idx, b).mul_(d);
    }

    /**
     * IQ4_XS: d f16, scales_h u16, scales_l[4], qs[128]. Group g: sc = (4 bits of scales_l |
     * 2 bits of scales_h << 4) - 32; 16-byte chunk g: low nibbles weights 0..15, high 16..31;
     * w = (d*sc) * K[nibble], the product with K always in float32.
     */
    private static Tensor iq4_xs(Tensor b, ScalarType a) {
        long n = b.size(0);
        Tensor d = half(b, 0).to(a);
        // Group g's low scale bits: byte g/2, nibble g%2 (minor); high bits: LE u16 bits 2g..2g+1
        // = byte g/4, bits 2*(g%4) (minor).
        Tensor low = unpackMinor(b.narrow(1, 4, 4), 4, 2).reshape(n, 8);
        Tensor high = unpackMinor(b.narrow(1, 2, 2), 2, 4).reshape(n, 8);
        Tensor sc = low.bitwise_or(high.bitwise_left_shift(s(4))).to(a).sub_(s(32));
        Tensor dl = sc.mul_(d).to(ScalarType.Float).view(n, 8, 1);
        Tensor idx = unpackMajor(b.narrow(1, 8, 128).reshape(n, 8, 16), 4, 2).reshape(n, 8, 32);
        return lookup(idx, b).mul_(dl).view(n, 256);
    }

    /** K[idx] as float32, same shape as the uint8 {@code idx}. */
    private static Tensor lookup(Tensor idx, Tensor onDevice) {
        Tensor table = iq4Table(onDevice.device());
        long[] shape = idx.sizes().vec().get();
        return table.index_select(0, idx.reshape(-1).to(ScalarType.Long)).view(shape);
    }

    private static Tensor iq4Table(Device device) {
        String key = device.str().getString();
        return IQ4_TABLES.computeIfAbsent(key, k -> {
            Tensor cpu = torch.tensor(IQ4_VALUES, new TensorOptions(ScalarType.Float));
            // retained: survives whatever scope is open now, and the map keeps it reachable
            return cpu.to(device, ScalarType.Float).retainReference();
        });
    }

    // ---- helpers -------------------------------------------------------------------------------

    /** The bytes as [nBlocks, typeSize] (a view when {@code raw} is contiguous). */
    private static Tensor blocks(Tensor raw, GgmlType type) {
        return raw.reshape(raw.numel() / type.typeSize(), type.typeSize());
    }

    /** The little-endian float16 at byte {@code offset} of every block, as [n, 1] Half. */
    private static Tensor half(Tensor blocks, int offset) {
        // A fresh contiguous copy of the two bytes: view(Half) needs an even storage offset, which a
        // narrow of an arbitrary buffer does not guarantee.
        return blocks.narrow(1, offset, 2)
                .clone(new MemoryFormatOptional(MemoryFormat.Contiguous))
                .view(ScalarType.Half);
    }

    /**
     * Bit fields of uint8 {@code x} [..., m]: {@code (x >> (i*bits)) & mask} for i < count, as
     * [..., count, m] (field index before the byte index).
     */
    private static Tensor unpackMajor(Tensor x, int bits, int count) {
        Tensor shifts = shifts(x, bits, count).view(count, 1);
        return x.unsqueeze(-2).bitwise_right_shift(shifts).bitwise_and(s((1 << bits) - 1));
    }

    /** As {@link #unpackMajor} but [..., m, count] (field index after the byte index). */
    private static Tensor unpackMinor(Tensor x, int bits, int count) {
        Tensor shifts = shifts(x, bits, count);
        return x.unsqueeze(-1).bitwise_right_shift(shifts).bitwise_and(s((1 << bits) - 1));
    }

    /** uint8 [0, bits, 2*bits, ...] on x's device (made there: no host-to-device copy). */
    private static Tensor shifts(Tensor x, int bits, int count) {
        return torch.arange(s(0), s((long) bits * count), s(bits), options(ScalarType.Byte, x.device()));
    }

    private static TensorOptions options(ScalarType dtype, Device device) {
        return new TensorOptions(dtype).device(new DeviceOptional(device));
    }

    private static Scalar s(long value) {
        return new Scalar(value);
    }
}
