// flux4j CUDA kernels, compiled at run time with NVRTC for the running card (see CudaKernels.java).
//
// Self-contained on purpose: no CUDA headers (NVRTC does not always ship cuda_fp16.h / cuda_bf16.h),
// so 16-bit floats are handled as raw bits with PTX conversions and c10's rounding rules.
//
// Compiled with --fmad=false: every product and sum is rounded on its own, as LibTorch's separate
// element-wise kernels round them, so the results are bit-identical to the LibTorch-ops path
// (TorchDequantizer, FluxMath) wherever no reduction is involved.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;

// ------------------------------------------------------------------------------------ floats

#ifndef FLUX_HOST_EMULATION
__device__ __forceinline__ float h2f(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

// float -> IEEE half, round to nearest even (c10::Half's conversion; NaN stays NaN).
__device__ __forceinline__ u16 f2h(float f) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
#endif

__device__ __forceinline__ float bf2f(u16 b) {
    return __uint_as_float(((u32) b) << 16);
}

// float -> bfloat16 exactly as c10::BFloat16's round_to_nearest_even (NaN -> 0x7FC0). On sm_80 and
// later one cvt.rn.bf16.f32 gives the same bits for every non-NaN value (round to nearest even,
// subnormals kept, overflow to infinity), so only NaN needs a select; the bit arithmetic before it
// cost five more instructions per value, which made the element-wise kernels instruction-bound.
__device__ __forceinline__ u16 f2bf(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u16 h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return f != f ? (u16) 0x7FC0 : h;
#else
    if (f != f) {
        return (u16) 0x7FC0;
    }
    u32 u = __float_as_uint(f);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (u16) (u >> 16);
#endif
}

// The float value of f rounded to bfloat16, for intermediate roundings: a NaN may come back with
// another payload (the stored result goes through f2bf, which makes it 0x7FC0).
__device__ __forceinline__ float bf_round(float f) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u16 h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return bf2f(h);
#else
    return bf2f(f2bf(f));
#endif
}

// Storage types: OUT 0 = float32, 1 = float16, 2 = bfloat16.
template <int OUT> struct Store;
template <> struct Store<0> {
    typedef float T;
    static __device__ __forceinline__ float load(float v) { return v; }
    static __device__ __forceinline__ float make(float v) { return v; }
    static __device__ __forceinline__ float round(float v) { return v; }
};
template <> struct Store<1> {
    typedef u16 T;
    static __device__ __forceinline__ float load(u16 v) { return h2f(v); }
    static __device__ __forceinline__ u16 make(float v) { return f2h(v); }
    static __device__ __forceinline__ float round(float v) { return h2f(f2h(v)); }
};
template <> struct Store<2> {
    typedef u16 T;
    static __device__ __forceinline__ float load(u16 v) { return bf2f(v); }
    static __device__ __forceinline__ u16 make(float v) { return f2bf(v); }
    static __device__ __forceinline__ float round(float v) { return bf_round(v); }
};

// Arithmetic of the dequantization: A 0 = float32 (gguf-py's), 1 = float16 (diffusers' GGUF path).
// Values are carried in float registers; in float16 mode every operation's result is rounded to
// half, which is what LibTorch's Half kernels do (compute in float, round the result).
template <int A> struct Arith;
template <> struct Arith<0> {
    static __device__ __forceinline__ float r(float v) { return v; }
};
template <> struct Arith<1> {
    static __device__ __forceinline__ float r(float v) { return h2f(f2h(v)); }
};

// ------------------------------------------------------------------------------------ bytes

// The block decoders read their bytes from shared memory (see the staged dequantization below),
// so these are plain loads, not __ldg.
__device__ __forceinline__ u32 b8(const u8* p, int i) {
    return (u32) p[i];
}

// 8 consecutive bytes at an 8-byte aligned offset, in one load; byte i is (lo|hi) >> 8i
__device__ __forceinline__ unsigned long long b64(const u8* p, int offset) {
    return *reinterpret_cast<const unsigned long long*>(p + offset);
}

__device__ __forceinline__ u32 byte_of(unsigned long long v, int i) {
    return (u32) (v >> (8 * i)) & 0xFFu;
}

__device__ __forceinline__ float half_at(const u8* p, int offset) {
    return h2f((u16) (b8(p, offset) | (b8(p, offset + 1) << 8)));
}

// ggml's kvalues_iq4nl
__device__ __constant__ float IQ4[16] = {
    -127.f, -104.f, -83.f, -65.f, -49.f, -35.f, -22.f, -10.f, 1.f, 13.f, 25.f, 38.f, 53.f, 69.f, 89.f, 113.f
};

// ------------------------------------------------------------------------------------ dequantization
//
// One thread writes 8 consecutive weights of one block (every block size is a multiple of 8, and
// 8 aligned weights never straddle a 16- or 32-weight group). Each block decoder fills w[0..7] for
// weights j0..j0+7 of the block at `b`, in the arithmetic A (the value before the output cast).
// The layouts and operation orders are those of TorchDequantizer (gguf-py's quants.py).

template <int A> struct Q4_0 {
    enum { QK = 32, TS = 18 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = Arith<A>::r(half_at(b, 0));
        for (int t = 0; t < 8; t++) {
            int j = j0 + t;
            u32 q = j < 16 ? (b8(b, 2 + j) & 15u) : (b8(b, 2 + j - 16) >> 4);
            w[t] = Arith<A>::r(Arith<A>::r((float) q - 8.0f) * d);
        }
    }
};

template <int A> struct Q4_1 {
    enum { QK = 32, TS = 20 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        float m = half_at(b, 2);
        for (int t = 0; t < 8; t++) {
            int j = j0 + t;
            u32 q = j < 16 ? (b8(b, 4 + j) & 15u) : (b8(b, 4 + j - 16) >> 4);
            w[t] = Arith<A>::r(Arith<A>::r((float) q * d) + m);
        }
    }
};

template <int A> struct Q5_0 {
    enum { QK = 32, TS = 22 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        u32 qh = b8(b, 2) | (b8(b, 3) << 8) | (b8(b, 4) << 16) | (b8(b, 5) << 24);
        for (int t = 0; t < 8; t++) {
            int j = j0 + t;
            u32 lo = j < 16 ? (b8(b, 6 + j) & 15u) : (b8(b, 6 + j - 16) >> 4);
            u32 q = lo | (((qh >> j) & 1u) << 4);
            w[t] = Arith<A>::r(Arith<A>::r((float) q - 16.0f) * d);
        }
    }
};

template <int A> struct Q5_1 {
    enum { QK = 32, TS = 24 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        float m = half_at(b, 2);
        u32 qh = b8(b, 4) | (b8(b, 5) << 8) | (b8(b, 6) << 16) | (b8(b, 7) << 24);
        for (int t = 0; t < 8; t++) {
            int j = j0 + t;
            u32 lo = j < 16 ? (b8(b, 8 + j) & 15u) : (b8(b, 8 + j - 16) >> 4);
            u32 q = lo | (((qh >> j) & 1u) << 4);
            w[t] = Arith<A>::r(Arith<A>::r((float) q * d) + m);
        }
    }
};

template <int A> struct Q8_0 {
    enum { QK = 32, TS = 34 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        for (int t = 0; t < 8; t++) {
            int q = (int) (signed char) b8(b, 2 + j0 + t);
            w[t] = Arith<A>::r((float) q * d);
        }
    }
};

// Q2_K: scales[16] @0, qs[64] @16, d @80, dmin @82; group g = j / 16.
template <int A> struct Q2_K {
    enum { QK = 256, TS = 84 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 80);
        float dmin = half_at(b, 82);
        u32 sc = b8(b, j0 / 16);
        float dl = Arith<A>::r((float) (sc & 15u) * d);
        float ml = Arith<A>::r((float) (sc >> 4) * dmin);
        int half = j0 / 128, shift = (j0 % 128) / 32;
        for (int t = 0; t < 8; t++) {
            int byte = (j0 + t) % 32;
            u32 q = (b8(b, 16 + half * 32 + byte) >> (2 * shift)) & 3u;
            w[t] = Arith<A>::r(Arith<A>::r((float) q * dl) - ml);
        }
    }
};

// Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108; group g = j / 16.
template <int A> struct Q3_K {
    enum { QK = 256, TS = 110 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 108);
        int g = j0 / 16;
        u32 low = g < 8 ? (b8(b, 96 + g) & 15u) : (b8(b, 96 + g - 8) >> 4);
        u32 high = (b8(b, 104 + g % 4) >> (2 * (g / 4))) & 3u;
        float sc = (float) (int) (low | (high << 4)) - 32.0f; // exact in both arithmetics
        float dl = Arith<A>::r(sc * d);
        int half = j0 / 128, shift = (j0 % 128) / 32, hshift = j0 / 32;
        for (int t = 0; t < 8; t++) {
            int byte = (j0 + t) % 32;
            int ql = (int) ((b8(b, 32 + half * 32 + byte) >> (2 * shift)) & 3u);
            int hbit = (int) ((b8(b, byte) >> hshift) & 1u);
            int q = ql - ((hbit ^ 1) << 2);
            w[t] = Arith<A>::r((float) q * dl);
        }
    }
};

// Q4_K / Q5_K group scale and offset (ggml's get_scale_min_k4), scales[12] at byte 4.
__device__ __forceinline__ void k4_scale_min(const u8* b, int g, u32* sc, u32* mn) {
    if (g < 4) {
        *sc = b8(b, 4 + g) & 63u;
        *mn = b8(b, 8 + g) & 63u;
    } else {
        int i = g - 4;
        *sc = (b8(b, 12 + i) & 15u) | ((b8(b, 4 + i) >> 2) & 0x30u);
        *mn = (b8(b, 12 + i) >> 4) | ((b8(b, 8 + i) >> 2) & 0x30u);
    }
}

// Q4_K: d @0, dmin @2, scales[12] @4, qs[128] @16; group g = j / 32.
template <int A> struct Q4_K {
    enum { QK = 256, TS = 144 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        float dmin = half_at(b, 2);
        u32 sc, mn;
        k4_scale_min(b, j0 / 32, &sc, &mn);
        float ds = Arith<A>::r((float) sc * d);
        float dm = Arith<A>::r((float) mn * dmin);
        int chunk = j0 / 64, shift = (j0 % 64) / 32;
        // blocks are 144 bytes (16-aligned), so the 8 bytes of these weights are 8-aligned
        unsigned long long qs = b64(b, 16 + chunk * 32 + j0 % 32);
        for (int t = 0; t < 8; t++) {
            u32 q = (byte_of(qs, t) >> (4 * shift)) & 15u;
            w[t] = Arith<A>::r(Arith<A>::r((float) q * ds) - dm);
        }
    }
};

// Q5_K: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48.
template <int A> struct Q5_K {
    enum { QK = 256, TS = 176 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        float dmin = half_at(b, 2);
        u32 sc, mn;
        k4_scale_min(b, j0 / 32, &sc, &mn);
        float ds = Arith<A>::r((float) sc * d);
        float dm = Arith<A>::r((float) mn * dmin);
        int chunk = j0 / 64, shift = (j0 % 64) / 32, hshift = j0 / 32;
        // blocks are 176 bytes (16-aligned): both 8-byte runs are 8-aligned
        unsigned long long qls = b64(b, 48 + chunk * 32 + j0 % 32);
        unsigned long long qhs = b64(b, 16 + j0 % 32);
        for (int t = 0; t < 8; t++) {
            u32 ql = (byte_of(qls, t) >> (4 * shift)) & 15u;
            u32 qh = (byte_of(qhs, t) >> hshift) & 1u;
            u32 q = ql | (qh << 4);
            w[t] = Arith<A>::r(Arith<A>::r((float) q * ds) - dm);
        }
    }
};

// Q6_K: ql[128] @0, qh[64] @128, scales int8[16] @192, d @208; scale index j / 16.
template <int A> struct Q6_K {
    enum { QK = 256, TS = 210 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 208);
        float sc = (float) (int) (signed char) b8(b, 192 + j0 / 16);
        float dsc = Arith<A>::r(sc * d);
        int half = j0 / 128, rem = j0 % 128;
        int lshift = rem / 64, hshift = rem / 32;
        for (int t = 0; t < 8; t++) {
            int lbyte = (rem + t) % 64, hbyte = (rem + t) % 32;
            u32 ql = (b8(b, half * 64 + lbyte) >> (4 * lshift)) & 15u;
            u32 qh = (b8(b, 128 + half * 32 + hbyte) >> (2 * hshift)) & 3u;
            float q = (float) (int) (ql | (qh << 4)) - 32.0f; // exact
            w[t] = Arith<A>::r(q * dsc);
        }
    }
};

// IQ4_NL: d @0, qs[16] @2; float32 in both arithmetics (the codebook is float32).
template <int A> struct IQ4_NL {
    enum { QK = 32, TS = 18 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        for (int t = 0; t < 8; t++) {
            int j = j0 + t;
            u32 q = j < 16 ? (b8(b, 2 + j) & 15u) : (b8(b, 2 + j - 16) >> 4);
            w[t] = IQ4[q] * d;
        }
    }
};

// IQ4_XS: d @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8; group g = j / 32.
template <int A> struct IQ4_XS {
    enum { QK = 256, TS = 136 };
    static __device__ __forceinline__ void decode(const u8* b, int j0, float* w) {
        float d = half_at(b, 0);
        int g = j0 / 32;
        u32 low = (b8(b, 4 + g / 2) >> (4 * (g % 2))) & 15u;
        u32 high = (b8(b, 2 + g / 4) >> (2 * (g % 4))) & 3u;
        float sc = (float) (int) (low | (high << 4)) - 32.0f; // exact
        float dl = Arith<A>::r(sc * d);
        int shift = (j0 % 32) / 16;
        // blocks are 136 bytes (8-aligned): the 8 bytes are 8-aligned
        unsigned long long qs = b64(b, 8 + g * 16 + j0 % 16);
        for (int t = 0; t < 8; t++) {
            u32 q = (byte_of(qs, t) >> (4 * shift)) & 15u;
            w[t] = IQ4[q] * dl;
        }
    }
};

template <int OUT> __device__ __forceinline__ void store8(typename Store<OUT>::T* dst, i64 octet, const float* w);

template <> __device__ __forceinline__ void store8<0>(float* dst, i64 octet, const float* w) {
    float4* p = reinterpret_cast<float4*>(dst + octet * 8);
    p[0] = make_float4(w[0], w[1], w[2], w[3]);
    p[1] = make_float4(w[4], w[5], w[6], w[7]);
}

template <int OUT> __device__ __forceinline__ void store8_16(u16* dst, i64 octet, const float* w) {
    u32 p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (u32) Store<OUT>::make(w[2 * i]) | ((u32) Store<OUT>::make(w[2 * i + 1]) << 16);
    }
    *reinterpret_cast<uint4*>(dst + octet * 8) = make_uint4(p[0], p[1], p[2], p[3]);
}
template <> __device__ __forceinline__ void store8<1>(u16* dst, i64 octet, const float* w) { store8_16<1>(dst, octet, w); }
template <> __device__ __forceinline__ void store8<2>(u16* dst, i64 octet, const float* w) { store8_16<2>(dst, octet, w); }

// Staged dequantization. A tile is DQ_THREADS / (QK / 8) whole blocks (one thread per 8
// weights); a CTA of DQ_THREADS threads expands `tiles` consecutive tiles (1..DQ_MAX_TILES). The
// CTA first copies its tiles' bytes into shared memory with coalesced 16-byte loads, every load of
// a thread issued before its first store (so that a CTA keeps up to DQ_MAX_TILES x 2 KB in flight:
// one tile alone is too little to hide the memory latency), then each thread decodes its 8
// weights of each tile from there and writes them with one 16-byte (or 32-byte) store per tile.
// Reading the packed blocks straight from global memory byte by byte (blocks are 18..210 bytes,
// mostly not 4-aligned) issued ten load instructions per 16 written bytes and ran at about a third
// of the card's bandwidth. Every tile covers a multiple of 16 bytes (checked below), so with the
// tensor on a 16-byte boundary each tile's bytes are too, and the alignment of every offset inside
// the shared copy equals its alignment in global memory (the K-quant decoders' 8-byte reads rely
// on that). The tile count changes the speed, never the result.
#define DQ_THREADS 256
#define DQ_MAX_TILES 4

template <class Q> struct Stage {
    enum { BLOCKS = DQ_THREADS / (Q::QK / 8), BYTES = BLOCKS * Q::TS, VECS = BYTES / 16 };
    static_assert(DQ_THREADS % (Q::QK / 8) == 0, "a tile holds whole blocks");
    static_assert(BYTES % 16 == 0, "a tile covers whole 16-byte vectors");
    static_assert(VECS <= DQ_THREADS, "one vector per thread and tile at most");
};

// Vector `tid` of tile `tile` (16 bytes), read from global memory; the vector past the end of the
// tensor is read byte by byte (zeros past the end, never decoded).
template <class Q>
__device__ __forceinline__ uint4 dequant_load(const u8* src, i64 totalBytes, i64 tile, unsigned tid) {
    i64 off = tile * Stage<Q>::BYTES + (i64) tid * 16;
    if (off + 16 <= totalBytes) {
        return __ldg(reinterpret_cast<const uint4*>(src + off));
    }
    u32 w[4] = {0u, 0u, 0u, 0u};
    for (int i = 0; i < 16; i++) {
        u32 b = off + i < totalBytes ? (u32) src[off + i] : 0u;
        w[i / 4] |= b << (8 * (i % 4));
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

// Phase 1 (every thread of the CTA, then __syncthreads): tiles first .. first + tiles - 1 into
// `stage` (tile t at stage + t * VECS), all of a thread's loads before its stores.
template <class Q>
__device__ __forceinline__ void dequant_stage(const u8* src, uint4* stage, i64 totalBytes, i64 first, int tiles,
        unsigned tid) {
    if (tid >= (unsigned) Stage<Q>::VECS) {
        return;
    }
    uint4 v[DQ_MAX_TILES];
#pragma unroll
    for (int t = 0; t < DQ_MAX_TILES; t++) {
        if (t < tiles) {
            v[t] = dequant_load<Q>(src, totalBytes, first + t, tid);
        }
    }
#pragma unroll
    for (int t = 0; t < DQ_MAX_TILES; t++) {
        if (t < tiles) {
            stage[t * Stage<Q>::VECS + tid] = v[t];
        }
    }
}

// Phase 2: thread `tid` decodes weights 8 * tid .. 8 * tid + 7 of tile `tile`, staged at `stage`.
template <class Q, int OUT>
__device__ __forceinline__ void dequant_decode(const u8* stage, typename Store<OUT>::T* dst, i64 octets, i64 tile, unsigned tid) {
    i64 o = tile * DQ_THREADS + tid;
    if (o >= octets) {
        return;
    }
    const int perBlock = Q::QK / 8;
    int local = (int) tid / perBlock;
    int j0 = ((int) tid % perBlock) * 8;
    float w[8];
    Q::decode(stage + local * Q::TS, j0, w);
    store8<OUT>(dst, o, w);
}

// Tiles a CTA expands for a requested count (out of range counts as 1).
__device__ __forceinline__ int dequant_tiles(int tiles) {
    return tiles < 1 || tiles > DQ_MAX_TILES ? 1 : tiles;
}

// launched with DQ_THREADS threads per CTA and ceil(octets / (DQ_THREADS * tiles)) CTAs
#define FLUX_DEQUANT(NAME, A, OUT)                                                                    \
    extern "C" __global__ void dequant_##NAME##_a##A##_o##OUT(const u8* src, Store<OUT>::T* dst, i64 octets, \
            int tiles) {                                                                              \
        __shared__ uint4 stage[DQ_MAX_TILES * Stage<NAME<A> >::VECS];                                 \
        i64 totalBytes = octets * 8 / NAME<A>::QK * NAME<A>::TS;                                     \
        int n = dequant_tiles(tiles);                                                                 \
        i64 first = (i64) blockIdx.x * n;                                                             \
        dequant_stage<NAME<A> >(src, stage, totalBytes, first, n, threadIdx.x);                      \
        __syncthreads();                                                                              \
        for (int t = 0; t < n; t++) {                                                                 \
            dequant_decode<NAME<A>, OUT>(reinterpret_cast<const u8*>(stage + t * Stage<NAME<A> >::VECS), dst, \
                    octets, first + t, threadIdx.x);                                                  \
        }                                                                                             \
    }

#define FLUX_DEQUANT_ALL(NAME) \
    FLUX_DEQUANT(NAME, 0, 0) FLUX_DEQUANT(NAME, 0, 1) FLUX_DEQUANT(NAME, 0, 2) \
    FLUX_DEQUANT(NAME, 1, 0) FLUX_DEQUANT(NAME, 1, 1) FLUX_DEQUANT(NAME, 1, 2)

FLUX_DEQUANT_ALL(Q4_0)
FLUX_DEQUANT_ALL(Q4_1)
FLUX_DEQUANT_ALL(Q5_0)
FLUX_DEQUANT_ALL(Q5_1)
FLUX_DEQUANT_ALL(Q8_0)
FLUX_DEQUANT_ALL(Q2_K)
FLUX_DEQUANT_ALL(Q3_K)
FLUX_DEQUANT_ALL(Q4_K)
FLUX_DEQUANT_ALL(Q5_K)
FLUX_DEQUANT_ALL(Q6_K)
FLUX_DEQUANT_ALL(IQ4_NL)
FLUX_DEQUANT_ALL(IQ4_XS)

// Plain 16/32-bit weights: IN 0 = F32, 1 = F16, 2 = BF16 bits, converted to OUT (a value cast:
// float16/bfloat16 widen exactly, then one rounding to the output type).
template <int IN, int OUT>
__device__ __forceinline__ void convert_body(const typename Store<IN>::T* src, typename Store<OUT>::T* dst, i64 octets) {
    i64 o = (i64) blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= octets) {
        return;
    }
    float w[8];
    for (int t = 0; t < 8; t++) {
        w[t] = Store<IN>::load(src[o * 8 + t]);
    }
    store8<OUT>(dst, o, w);
}

#define FLUX_CONVERT(IN, OUT) \
    extern "C" __global__ void convert_i##IN##_o##OUT(const Store<IN>::T* src, Store<OUT>::T* dst, i64 octets) { \
        convert_body<IN, OUT>(src, dst, octets); \
    }
FLUX_CONVERT(0, 0) FLUX_CONVERT(0, 1) FLUX_CONVERT(0, 2)
FLUX_CONVERT(1, 0) FLUX_CONVERT(1, 1) FLUX_CONVERT(1, 2)
FLUX_CONVERT(2, 0) FLUX_CONVERT(2, 1) FLUX_CONVERT(2, 2)

// ------------------------------------------------------------------------------------ reductions

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

// R sums over the block at once (blockDim.x a multiple of 32, at most 1024; every thread gets the
// results): each value's warp butterfly, then the warps' partial sums in a second butterfly, so each
// sum is added in the same order whatever R is; the R values share one pair of barriers. `shared`
// holds 32 partial sums per value.
template <int R>
__device__ __forceinline__ void block_sums(float* v, float* shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int r = 0; r < R; r++) {
        v[r] = warp_sum(v[r]);
    }
    __syncthreads();
    if (lane == 0) {
        for (int r = 0; r < R; r++) {
            shared[32 * r + warp] = v[r];
        }
    }
    __syncthreads();
    for (int r = 0; r < R; r++) {
        float t = lane < warps ? shared[32 * r + lane] : 0.0f;
        v[r] = warp_sum(t);
    }
}

// ------------------------------------------------------------------------------------ 16-byte vectors
//
// VEC values of storage type T in 16 bytes (4 float32, or 8 float16/bfloat16), loaded and stored
// in one instruction; callers guarantee 16-byte alignment.

template <int T> struct Vec;
template <> struct Vec<0> {
    enum { N = 4 };
    static __device__ __forceinline__ void load(const float* p, float* f) {
        float4 v = *reinterpret_cast<const float4*>(p);
        f[0] = v.x; f[1] = v.y; f[2] = v.z; f[3] = v.w;
    }
    static __device__ __forceinline__ void store(float* p, const float* f) {
        *reinterpret_cast<float4*>(p) = make_float4(f[0], f[1], f[2], f[3]);
    }
};
// The 8 values of 16-bit type T in a 16-byte vector's raw bits.
template <int T>
__device__ __forceinline__ void unpack8(uint4 v, float* f) {
    u32 w[4] = {v.x, v.y, v.z, v.w};
    for (int i = 0; i < 4; i++) {
        f[2 * i] = Store<T>::load((u16) (w[i] & 0xFFFFu));
        f[2 * i + 1] = Store<T>::load((u16) (w[i] >> 16));
    }
}

template <int T> struct Vec16 {
    enum { N = 8 };
    static __device__ __forceinline__ void load(const u16* p, float* f) {
        unpack8<T>(*reinterpret_cast<const uint4*>(p), f);
    }
    static __device__ __forceinline__ void store(u16* p, const float* f) {
        u32 w[4];
        for (int i = 0; i < 4; i++) {
            w[i] = (u32) Store<T>::make(f[2 * i]) | ((u32) Store<T>::make(f[2 * i + 1]) << 16);
        }
        *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
    }
};
template <> struct Vec<1> : Vec16<1> {};
template <> struct Vec<2> : Vec16<2> {};

// ------------------------------------------------------------------------------------ LayerNorm + modulation
//
// out = ((LN(x) * (1 + scale)) + shift), FluxMath.layerNorm then FluxMath.modulate: LayerNorm
// without affine (eps 1e-6, statistics in float32), each of the three element-wise ops rounded to T
// as LibTorch rounds them. A block does R consecutive rows of D values (R = 1, or 2 where the rows
// per batch are even: all R rows of one batch), one 16-byte vector of each row per thread
// (blockDim = D / VEC rounded up to a warp; D a multiple of VEC, at most 1024 vectors); shift/scale
// rows are [B, D] views whose rows are `modStride` elements apart; a row of x belongs to batch
// row / rowsPerBatch. Two rows per block keep twice the bytes in flight and pay the reductions'
// barriers once for both (one row per block left HBM idle while each block sat in them); each
// row's sums are added in the same order for any R, so the bits are the same.
template <int T, int R>
__device__ __forceinline__ void ln_modulate_rows(const typename Store<T>::T* x, const typename Store<T>::T* shift,
        const typename Store<T>::T* scale, typename Store<T>::T* out, int D, i64 rowsPerBatch, i64 modStride, float eps) {
    __shared__ float red[32 * R];
    const int N = Vec<T>::N;
    i64 row = (i64) R * blockIdx.x;
    i64 batch = row / rowsPerBatch;
    int c = threadIdx.x * N;
    bool active = c < D;
    float v[R][N], sh[N], sc[N];
    float s[R], q[R];
    for (int r = 0; r < R; r++) {
        s[r] = 0.0f;
        q[r] = 0.0f;
    }
    if (active) {
        // shift and scale do not depend on the statistics: loaded with x, before the reductions'
        // barriers, so that a row costs one memory latency instead of two
        for (int r = 0; r < R; r++) {
            Vec<T>::load(x + (row + r) * D + c, v[r]);
        }
        Vec<T>::load(shift + batch * modStride + c, sh);
        Vec<T>::load(scale + batch * modStride + c, sc);
        for (int r = 0; r < R; r++) {
            for (int k = 0; k < N; k++) {
                s[r] += v[r][k];
            }
        }
    }
    block_sums<R>(s, red);
    float mean[R];
    for (int r = 0; r < R; r++) {
        mean[r] = s[r] / (float) D;
    }
    if (active) {
        for (int r = 0; r < R; r++) {
            for (int k = 0; k < N; k++) {
                float d = v[r][k] - mean[r];
                q[r] += d * d;
            }
        }
    }
    block_sums<R>(q, red);
    if (active) {
        for (int r = 0; r < R; r++) {
            float rstd = rsqrtf(q[r] / (float) D + eps);
            float o[N];
            for (int k = 0; k < N; k++) {
                float ln = Store<T>::round((v[r][k] - mean[r]) * rstd);
                float s1 = Store<T>::round(sc[k] + 1.0f);
                float m = Store<T>::round(ln * s1);
                o[k] = m + sh[k];
            }
            Vec<T>::store(out + (row + r) * D + c, o);
        }
    }
}

#define FLUX_LN_MOD(K) \
    extern "C" __global__ void ln_modulate_t##K(const Store<K>::T* x, const Store<K>::T* shift, const Store<K>::T* scale, \
            Store<K>::T* out, int D, i64 rowsPerBatch, i64 modStride, float eps) { \
        ln_modulate_rows<K, 1>(x, shift, scale, out, D, rowsPerBatch, modStride, eps); \
    } \
    extern "C" __global__ void ln_modulate_pair_t##K(const Store<K>::T* x, const Store<K>::T* shift, \
            const Store<K>::T* scale, Store<K>::T* out, int D, i64 rowsPerBatch, i64 modStride, float eps) { \
        ln_modulate_rows<K, 2>(x, shift, scale, out, D, rowsPerBatch, modStride, eps); \
    }
FLUX_LN_MOD(0) FLUX_LN_MOD(1) FLUX_LN_MOD(2)

// ------------------------------------------------------------------------------------ QK RMSNorm + RoPE
//
// For q or k of one stream, [B, S, H, D] (head vectors contiguous, tokens xTokenStride elements
// apart, batches xBatchStride: q is a column slice of the fused qkv projection): torch.nn.RMSNorm as
// LibTorch computes it on CUDA (diffusers' FLUX uses it): x * rsqrt(mean(x^2) + eps) * weight in
// float32, rounded once to T (LibTorch's CPU composite rounds after the rsqrt product too),
// then apply_rotary_emb with float32 tables: out[2i] = y[2i]*cos - y[2i+1]*sin,
// out[2i+1] = y[2i+1]*cos + y[2i]*sin (each product and the sum in float32), rounded to T.
// The result goes to token s + tokenOffset of an [B, Sout, H, D] buffer (the joint text+image
// sequence), whose RoPE table row is the same joint position. One warp per row; D <= 256, even.

// Two adjacent values (a pair of the rotation) in one load or store where the address allows it:
// 4 bytes for 16-bit storage, 8 for float32 (the caller says whether the pair's address is
// aligned; every pair of a row is, when the row's start is).
template <int T> struct Pair;
template <> struct Pair<0> {
    enum { ALIGN = 8 };
    static __device__ __forceinline__ void load(const float* p, bool aligned, float& a, float& b) {
        if (aligned) {
            float2 v = *reinterpret_cast<const float2*>(p);
            a = v.x;
            b = v.y;
        } else {
            a = p[0];
            b = p[1];
        }
    }
    static __device__ __forceinline__ void store(float* p, bool aligned, float a, float b) {
        if (aligned) {
            *reinterpret_cast<float2*>(p) = make_float2(a, b);
        } else {
            p[0] = a;
            p[1] = b;
        }
    }
};
template <int T> struct Pair16 {
    enum { ALIGN = 4 };
    static __device__ __forceinline__ void load(const u16* p, bool aligned, float& a, float& b) {
        if (aligned) {
            u32 v = *reinterpret_cast<const u32*>(p);
            a = Store<T>::load((u16) (v & 0xFFFFu));
            b = Store<T>::load((u16) (v >> 16));
        } else {
            a = Store<T>::load(p[0]);
            b = Store<T>::load(p[1]);
        }
    }
    static __device__ __forceinline__ void store(u16* p, bool aligned, float a, float b) {
        if (aligned) {
            *reinterpret_cast<u32*>(p) = (u32) Store<T>::make(a) | ((u32) Store<T>::make(b) << 16);
        } else {
            p[0] = Store<T>::make(a);
            p[1] = Store<T>::make(b);
        }
    }
};
template <> struct Pair<1> : Pair16<1> {};
template <> struct Pair<2> : Pair16<2> {};

__device__ __forceinline__ bool aligned_to(const void* p, int bytes) {
    return ((unsigned long long) p & (unsigned long long) (bytes - 1)) == 0;
}

// A launch numbers the head rows of q or k batch-major: row = (b * S + s) * H + h.
struct HeadRow {
    i64 b;
    int s, h;
    __device__ __forceinline__ HeadRow(i64 row, int S, int H) {
        h = (int) (row % H);
        i64 bs = row / H;
        s = (int) (bs % S);
        b = bs / S;
    }
};

// What one lane holds between the two phases of a row: its values (pairs p = lane + 32 k, k < 4),
// their share of the sum of squares, and the RMSNorm weights they need (loaded with the values,
// before the warp's reduction). The RoPE tables are read in the second phase: holding them too
// would cost 16 more registers a lane, and half the warps an SM can keep (they come from L2).
struct RmsRopeLane {
    float v[8], w[8];
    float sq;
};

// Phase 1 of row `row`, for one lane; false if the row is past the end (the whole warp leaves).
template <int T>
__device__ __forceinline__ bool rms_rope_begin(const typename Store<T>::T* x, const typename Store<T>::T* weight,
        i64 rows, int S, int H, int D, i64 xTokenStride, i64 xBatchStride, i64 row, int lane, RmsRopeLane& l) {
    if (row >= rows) {
        return false;
    }
    HeadRow hr(row, S, H);
    i64 b = hr.b;
    int s = hr.s, h = hr.h;
    const typename Store<T>::T* xr = x + b * xBatchStride + (i64) s * xTokenStride + (i64) h * D;
    bool xa = aligned_to(xr, Pair<T>::ALIGN), wa = aligned_to(weight, Pair<T>::ALIGN);
    int pairs = D / 2;
    l.sq = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; k++) {
        int p = lane + 32 * k;
        float a = 0.0f, c = 0.0f;
        if (p < pairs) {
            Pair<T>::load(xr + 2 * p, xa, a, c);
            Pair<T>::load(weight + 2 * p, wa, l.w[2 * k], l.w[2 * k + 1]);
        }
        l.v[2 * k] = a;
        l.v[2 * k + 1] = c;
        l.sq += a * a;
        l.sq += c * c;
    }
    return true;
}

// Phase 2 of row `row`, for one lane, with the row's rstd from the warp's sum: normalise, weight,
// rotate with the float32 tables of the row's joint position, write.
template <int T>
__device__ __forceinline__ void rms_rope_end(const float* cosT, const float* sinT, typename Store<T>::T* out, int S,
        int H, int D, int Sout, int tokenOffset, i64 row, int lane, const RmsRopeLane& l, float rstd) {
    HeadRow hr(row, S, H);
    i64 b = hr.b;
    int s = hr.s, h = hr.h;
    int pos = s + tokenOffset;
    const float* cr = cosT + (i64) pos * D;
    const float* sr = sinT + (i64) pos * D;
    bool ca = aligned_to(cr, 8) && aligned_to(sr, 8);
    typename Store<T>::T* o = out + (((b * Sout + pos) * H) + h) * D;
    bool oa = aligned_to(o, Pair<T>::ALIGN);
    int pairs = D / 2;
#pragma unroll
    for (int k = 0; k < 4; k++) {
        int p = lane + 32 * k;
        if (p < pairs) {
            float c0, c1, s0, s1;
            Pair<0>::load(cr + 2 * p, ca, c0, c1);
            Pair<0>::load(sr + 2 * p, ca, s0, s1);
            float e = Store<T>::round((l.v[2 * k] * rstd) * l.w[2 * k]);
            float d = Store<T>::round((l.v[2 * k + 1] * rstd) * l.w[2 * k + 1]);
            float re = e * c0 + (-d) * s0;
            float im = d * c1 + e * s1;
            Pair<T>::store(o + 2 * p, oa, re, im);
        }
    }
}

template <int T>
__device__ __forceinline__ void rms_rope_body(const typename Store<T>::T* x, const typename Store<T>::T* weight,
        const float* cosT, const float* sinT, typename Store<T>::T* out, i64 rows, int S, int H, int D,
        int Sout, int tokenOffset, float eps, i64 xTokenStride, i64 xBatchStride) {
    int lane = threadIdx.x & 31;
    i64 row = (i64) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    RmsRopeLane l;
    if (!rms_rope_begin<T>(x, weight, rows, S, H, D, xTokenStride, xBatchStride, row, lane, l)) {
        return;
    }
    float sq = warp_sum(l.sq);
    float rstd = rsqrtf(sq / (float) D + eps);
    rms_rope_end<T>(cosT, sinT, out, S, H, D, Sout, tokenOffset, row, lane, l, rstd);
}

#define FLUX_RMS_ROPE(K) \
    extern "C" __global__ void rms_rope_t##K(const Store<K>::T* x, const Store<K>::T* weight, const float* cosT, \
            const float* sinT, Store<K>::T* out, i64 rows, int S, int H, int D, int Sout, int tokenOffset, float eps, \
            i64 xTokenStride, i64 xBatchStride) { \
        rms_rope_body<K>(x, weight, cosT, sinT, out, rows, S, H, D, Sout, tokenOffset, eps, xTokenStride, xBatchStride); \
    }
FLUX_RMS_ROPE(0) FLUX_RMS_ROPE(1) FLUX_RMS_ROPE(2)

// The same for 16-bit storage in 16-byte vectors: a group of G = D / 8 lanes (a power of two, at
// most 32) holds one head row, 8 values a lane; each group does RRV_ROWS rows, their loads issued
// before any is used, and a warp's groups take adjacent rows, so a warp reads and writes whole
// 512-byte runs. The per-lane kernel above moved 4 bytes per load and one 256-byte row per warp,
// which kept too few bytes in flight (about 1 TB/s on an H200). Only the order in which the
// float32 sum of squares is added differs from it (lane l holds values 8l .. 8l + 7 here).
#define RRV_ROWS 2

struct RmsRopeVecLane {
    uint4 raw[RRV_ROWS];
    float w[8];
    float sq[RRV_ROWS];
};

// Row r of the group's RRV_ROWS (for the launch's row numbering; G lanes per row).
__device__ __forceinline__ i64 rrv_row(int G, int lane, int r) {
    int groups = 32 / G;
    i64 warp = (i64) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    return warp * groups * RRV_ROWS + (i64) r * groups + lane / G;
}

// Phase 1: load the lane's 8 values of each row and the matching weights; partial sums of squares.
template <int T>
__device__ __forceinline__ void rrv_begin(const u16* x, const u16* weight, i64 rows, int S, int H, int D,
        i64 xTokenStride, i64 xBatchStride, int G, int lane, RmsRopeVecLane& l) {
    int c = (lane % G) * 8;
#pragma unroll
    for (int r = 0; r < RRV_ROWS; r++) {
        i64 row = rrv_row(G, lane, r);
        l.raw[r] = make_uint4(0u, 0u, 0u, 0u);
        if (row < rows) {
            HeadRow hr(row, S, H);
            l.raw[r] = *reinterpret_cast<const uint4*>(
                    x + hr.b * xBatchStride + (i64) hr.s * xTokenStride + (i64) hr.h * D + c);
        }
    }
    Vec<T>::load(weight + c, l.w);
#pragma unroll
    for (int r = 0; r < RRV_ROWS; r++) {
        float f[8];
        unpack8<T>(l.raw[r], f);
        float q = 0.0f;
        for (int k = 0; k < 8; k++) {
            q += f[k] * f[k];
        }
        l.sq[r] = q;
    }
}

// Phase 2, with each row's sum of squares over its group: normalise, weight, rotate, write.
template <int T>
__device__ __forceinline__ void rrv_end(const float* cosT, const float* sinT, u16* out, i64 rows, int S, int H,
        int D, int Sout, int tokenOffset, float eps, int G, int lane, const RmsRopeVecLane& l, const float* sq) {
    int c = (lane % G) * 8;
#pragma unroll
    for (int r = 0; r < RRV_ROWS; r++) {
        i64 row = rrv_row(G, lane, r);
        if (row >= rows) {
            continue;
        }
        HeadRow hr(row, S, H);
        i64 b = hr.b;
        int s = hr.s, h = hr.h;
        int pos = s + tokenOffset;
        float rstd = rsqrtf(sq[r] / (float) D + eps);
        float v[8], cs[8], sn[8], o[8];
        unpack8<T>(l.raw[r], v);
        Vec<0>::load(cosT + (i64) pos * D + c, cs);
        Vec<0>::load(cosT + (i64) pos * D + c + 4, cs + 4);
        Vec<0>::load(sinT + (i64) pos * D + c, sn);
        Vec<0>::load(sinT + (i64) pos * D + c + 4, sn + 4);
        for (int m = 0; m < 4; m++) {
            float e = Store<T>::round((v[2 * m] * rstd) * l.w[2 * m]);
            float d = Store<T>::round((v[2 * m + 1] * rstd) * l.w[2 * m + 1]);
            o[2 * m] = e * cs[2 * m] + (-d) * sn[2 * m];
            o[2 * m + 1] = d * cs[2 * m + 1] + e * sn[2 * m + 1];
        }
        Vec<T>::store(out + (((b * Sout + pos) * H) + h) * D + c, o);
    }
}

template <int T>
__device__ __forceinline__ void rms_rope_vec_body(const u16* x, const u16* weight, const float* cosT,
        const float* sinT, u16* out, i64 rows, int S, int H, int D, int Sout, int tokenOffset, float eps,
        i64 xTokenStride, i64 xBatchStride) {
    int lane = threadIdx.x & 31, G = D / 8;
    RmsRopeVecLane l;
    rrv_begin<T>(x, weight, rows, S, H, D, xTokenStride, xBatchStride, G, lane, l);
    float sq[RRV_ROWS];
#pragma unroll
    for (int r = 0; r < RRV_ROWS; r++) {
        float v = l.sq[r];
        for (int o = G / 2; o > 0; o >>= 1) {
            v += __shfl_xor_sync(0xffffffffu, v, o);
        }
        sq[r] = v;
    }
    rrv_end<T>(cosT, sinT, out, rows, S, H, D, Sout, tokenOffset, eps, G, lane, l, sq);
}

#define FLUX_RMS_ROPE_VEC(K) \
    extern "C" __global__ void rms_rope_vec_t##K(const u16* x, const u16* weight, const float* cosT, \
            const float* sinT, u16* out, i64 rows, int S, int H, int D, int Sout, int tokenOffset, float eps, \
            i64 xTokenStride, i64 xBatchStride) { \
        rms_rope_vec_body<K>(x, weight, cosT, sinT, out, rows, S, H, D, Sout, tokenOffset, eps, xTokenStride, \
                xBatchStride); \
    }
FLUX_RMS_ROPE_VEC(1) FLUX_RMS_ROPE_VEC(2)

// ------------------------------------------------------------------------------------ gated residual
//
// out = x + (gate * y), FluxMath.gate then Tensor.add: gate rows are [B, D] views `gateStride`
// apart, x and y contiguous [B, rowsPerBatch, D]; both products rounded to T as LibTorch does.
// One thread per 16-byte vector (D a multiple of VEC).

template <int T>
__device__ __forceinline__ void gated_residual_body(const typename Store<T>::T* x, const typename Store<T>::T* gate,
        const typename Store<T>::T* y, typename Store<T>::T* out, i64 vectors, int D, i64 rowsPerBatch, i64 gateStride) {
    const int N = Vec<T>::N;
    i64 o = (i64) blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= vectors) {
        return;
    }
    i64 e = o * N;
    i64 row = e / D;
    int col = (int) (e - row * D);
    float xv[N], gv[N], yv[N];
    Vec<T>::load(x + e, xv);
    Vec<T>::load(y + e, yv);
    Vec<T>::load(gate + (row / rowsPerBatch) * gateStride + col, gv);
    for (int t = 0; t < N; t++) {
        xv[t] = xv[t] + Store<T>::round(gv[t] * yv[t]);
    }
    Vec<T>::store(out + e, xv);
}

#define FLUX_GATED(K) \
    extern "C" __global__ void gated_residual_t##K(const Store<K>::T* x, const Store<K>::T* gate, const Store<K>::T* y, \
            Store<K>::T* out, i64 vectors, int D, i64 rowsPerBatch, i64 gateStride) { \
        gated_residual_body<K>(x, gate, y, out, vectors, D, rowsPerBatch, gateStride); \
    }
FLUX_GATED(0) FLUX_GATED(1) FLUX_GATED(2)

// ------------------------------------------------------------------------------------ fused dequantization + matvec
//
// y[b, n] = sum_k x[b, k] * w[n, k] (+ bias[n]) for a handful of input rows (b < B <= MV_MAX_ROWS),
// straight from the packed blocks: the modulation, timestep, guidance and pooled-text linears of
// FLUX see one row per image, so their cost is reading the weight. Expanding it first would write
// and read back twice its packed size in the compute dtype; here each packed byte is read once.
//
// One warp per output feature n. The warp walks its weight row in chunks of 256 weights (32
// octets: 8 blocks of 32 weights or one block of 256), `depth` chunks per round (1..MV_MAX_DEPTH):
// it copies the round's bytes into its own slice of shared memory with coalesced loads (16-, 4- or
// 1-byte wide, as the address allows), all issued before any is used, so that a deeper round keeps
// more bytes in flight (one chunk is 272 bytes of Q8_0: too little to hide the memory latency);
// then, chunk by chunk, lane l decodes octet l with the same block decoders as the dequantization kernels,
// rounds the 8 weights to T exactly as the expanded weight would hold them, and accumulates
// x[b, k] * w in float32 (separately rounded products and sums: --fmad=false). A warp sum gives
// y; the bias is added in float32 and the result rounded once to T. Against the unfused
// expand-then-GEMM path only the float32 summation order differs. Every lane adds its chunks in
// row order whatever the depth, so the depth changes the speed, never the result (bit for bit).

#define MV_WARPS 8
#define MV_MAX_DEPTH 4
#define MV_MAX_ROWS 8
#define MV_CHUNK_WORDS 72  // 288 bytes >= the largest chunk (8 x 34 bytes of Q8_0)
#define MV_STAGE_VECS (MV_MAX_DEPTH * MV_CHUNK_WORDS / 4)  // one round's stage in 16-byte vectors

template <int T> __device__ __forceinline__ void load8(const typename Store<T>::T* p, float* f);
template <> __device__ __forceinline__ void load8<0>(const float* p, float* f) {
    Vec<0>::load(p, f);
    Vec<0>::load(p + 4, f + 4);
}
template <> __device__ __forceinline__ void load8<1>(const u16* p, float* f) { Vec<1>::load(p, f); }
template <> __device__ __forceinline__ void load8<2>(const u16* p, float* f) { Vec<2>::load(p, f); }

// Copies count words from src to dst, lane l taking words l, l + 32, ...: every load of the lane
// is issued before the first store, so a lane has up to MAXI loads in flight (a loop that stores
// each word as it arrives would wait out the memory latency once per word).
template <int MAXI, class V>
__device__ __forceinline__ void mv_copy(const V* src, V* dst, int count, int lane) {
    V v[MAXI];
#pragma unroll
    for (int j = 0; j < MAXI; j++) {
        int i = lane + 32 * j;
        if (i < count) {
            v[j] = __ldg(src + i);
        }
    }
#pragma unroll
    for (int j = 0; j < MAXI; j++) {
        int i = lane + 32 * j;
        if (i < count) {
            dst[i] = v[j];
        }
    }
}

// Phase 1 of a round, for one lane: copies its share of `bytes` bytes (at most MV_MAX_DEPTH
// chunks) at `src` into `stage`, 16 or 4 bytes a load where the address and size allow.
__device__ __forceinline__ void mv_stage(const u8* src, int bytes, u32* stage, int lane) {
    unsigned long long a = (unsigned long long) src;
    if (((a | (unsigned long long) bytes) & 15ull) == 0) {
        mv_copy<(MV_MAX_DEPTH * MV_CHUNK_WORDS / 4 + 31) / 32>(
                reinterpret_cast<const uint4*>(src), reinterpret_cast<uint4*>(stage), bytes / 16, lane);
    } else if (((a | (unsigned long long) bytes) & 3ull) == 0) {
        mv_copy<(MV_MAX_DEPTH * MV_CHUNK_WORDS + 31) / 32>(reinterpret_cast<const u32*>(src), stage, bytes / 4, lane);
    } else {
        for (int i = lane; i < bytes; i += 32) {
            reinterpret_cast<u8*>(stage)[i] = __ldg(src + i);
        }
    }
}

// Phase 2, per chunk of the round, for one lane: decodes octet `lane` of the staged chunk (if the
// chunk has it) and adds its 8 products to acc[b] for every input row b.
template <class Q, int T>
__device__ __forceinline__ void mv_accumulate(const u32* stage, int octets, int lane, const typename Store<T>::T* x,
        i64 k0, int K, int B, float* acc) {
    if (lane >= octets) {
        return;
    }
    const int perBlock = Q::QK / 8;
    float w[8];
    Q::decode(reinterpret_cast<const u8*>(stage) + (lane / perBlock) * Q::TS, (lane % perBlock) * 8, w);
    for (int t = 0; t < 8; t++) {
        w[t] = Store<T>::round(w[t]);
    }
    for (int b = 0; b < MV_MAX_ROWS; b++) {
        if (b < B) {
            float xv[8];
            load8<T>(x + (i64) b * K + k0 + lane * 8, xv);
            float s = acc[b];
            for (int t = 0; t < 8; t++) {
                s += xv[t] * w[t];
            }
            acc[b] = s;
        }
    }
}

// Phase 2 of a round, for one lane: the round's `blocks` blocks (staged at `stage`, from block
// `blk` of the row on), chunk by chunk in row order. Chunk c starts c * chunkBlocks blocks in,
// with the byte alignment a block has within a row, as with one chunk per round.
template <class Q, int T>
__device__ __forceinline__ void mv_accumulate_round(const u32* stage, int blk, int blocks, int lane,
        const typename Store<T>::T* x, int K, int B, float* acc) {
    const int chunkBlocks = 256 / Q::QK;
    for (int c = 0; c * chunkBlocks < blocks; c++) {
        int left = blocks - c * chunkBlocks;
        int cb = left < chunkBlocks ? left : chunkBlocks;
        const u32* chunk = reinterpret_cast<const u32*>(reinterpret_cast<const u8*>(stage) + c * chunkBlocks * Q::TS);
        mv_accumulate<Q, T>(chunk, cb * Q::QK / 8, lane, x, (i64) (blk + c * chunkBlocks) * Q::QK, K, B, acc);
    }
}

// Blocks per round for a staging depth (chunks per round; out of range counts as 1).
template <class Q> __device__ __forceinline__ int mv_round_blocks(int depth) {
    return (256 / Q::QK) * (depth < 1 || depth > MV_MAX_DEPTH ? 1 : depth);
}

// The warp's sums, plus the bias in float32, rounded once to T by lane 0.
template <int T>
__device__ __forceinline__ void mv_finish(const float* acc, const typename Store<T>::T* bias, typename Store<T>::T* y,
        int N, int B, i64 n, int lane) {
    for (int b = 0; b < MV_MAX_ROWS; b++) {
        if (b < B) {
            float s = warp_sum(acc[b]);
            if (lane == 0) {
                float v = bias ? s + Store<T>::load(bias[n]) : s;
                y[(i64) b * N + n] = Store<T>::make(v);
            }
        }
    }
}

template <class Q, int T>
__device__ __forceinline__ void matvec_body(const u8* W, const typename Store<T>::T* x, const typename Store<T>::T* bias,
        typename Store<T>::T* y, int N, int K, int B, int depth) {
    __shared__ uint4 stage[MV_WARPS][MV_STAGE_VECS]; // uint4: 16-byte aligned slices
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    i64 n = (i64) blockIdx.x * MV_WARPS + warp;
    if (n >= N) {
        return; // whole warps leave together: only __syncwarp below
    }
    const int rowBlocks = K / Q::QK;
    const int roundBlocks = mv_round_blocks<Q>(depth);
    const u8* row = W + n * rowBlocks * Q::TS;
    float acc[MV_MAX_ROWS];
    for (int b = 0; b < MV_MAX_ROWS; b++) {
        acc[b] = 0.0f;
    }
    u32* mine = reinterpret_cast<u32*>(stage[warp]);
    for (int blk = 0; blk < rowBlocks; blk += roundBlocks) {
        int blocks = rowBlocks - blk < roundBlocks ? rowBlocks - blk : roundBlocks;
        mv_stage(row + (i64) blk * Q::TS, blocks * Q::TS, mine, lane);
        __syncwarp();
        mv_accumulate_round<Q, T>(mine, blk, blocks, lane, x, K, B, acc);
        __syncwarp();
    }
    mv_finish<T>(acc, bias, y, N, B, n, lane);
}

// launched with MV_WARPS * 32 threads per CTA and ceil(N / MV_WARPS) CTAs; bias may be null. At
// most 64 registers a thread, so that four CTAs (32 warps, each with a round in flight) fit an SM.
#define FLUX_MATVEC(NAME, A, E)                                                                       \
    extern "C" __global__ void __launch_bounds__(MV_WARPS * 32, 4)                                   \
    matvec_##NAME##_a##A##_t##E(const u8* W, const Store<E>::T* x,                                   \
            const Store<E>::T* bias, Store<E>::T* y, int N, int K, int B, int depth) {                \
        matvec_body<NAME<A>, E>(W, x, bias, y, N, K, B, depth);                                       \
    }

#define FLUX_MATVEC_ALL(NAME) \
    FLUX_MATVEC(NAME, 0, 0) FLUX_MATVEC(NAME, 0, 1) FLUX_MATVEC(NAME, 0, 2) \
    FLUX_MATVEC(NAME, 1, 0) FLUX_MATVEC(NAME, 1, 1) FLUX_MATVEC(NAME, 1, 2)

FLUX_MATVEC_ALL(Q4_0)
FLUX_MATVEC_ALL(Q4_1)
FLUX_MATVEC_ALL(Q5_0)
FLUX_MATVEC_ALL(Q5_1)
FLUX_MATVEC_ALL(Q8_0)
FLUX_MATVEC_ALL(Q2_K)
FLUX_MATVEC_ALL(Q3_K)
FLUX_MATVEC_ALL(Q4_K)
FLUX_MATVEC_ALL(Q5_K)
FLUX_MATVEC_ALL(Q6_K)
FLUX_MATVEC_ALL(IQ4_NL)
FLUX_MATVEC_ALL(IQ4_XS)
