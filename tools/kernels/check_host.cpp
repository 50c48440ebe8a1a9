// Dequantizes raw GGML blocks with flux_kernels.cu's decoders on the host.
// usage: check_host TYPE ARITH OUT in.bin out.bin numel [TILES]   (ARITH 0 float32 / 1 float16; OUT 0 f32, 1 f16,
// 2 bf16; TILES per CTA, 1..4, default 1)
#include "host_shim.h"
#include "../../flux-core/src/main/resources/io/github/flux4j/core/cuda/flux_kernels.cu"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

// The staged kernel as the GPU runs it: per CTA of `tiles` tiles, every thread's stage phase, then
// (after what is __syncthreads on the GPU) every thread's decode phase, tile by tile.
template <class Q, int OUT> static void run(const u8* src, void* dst, i64 numel, int tiles) {
    i64 octets = numel / 8;
    i64 totalBytes = numel / Q::QK * Q::TS;
    static uint4 stage[DQ_MAX_TILES * Stage<Q>::VECS];
    int n = dequant_tiles(tiles);
    for (i64 cta = 0; cta * DQ_THREADS * n < octets; cta++) {
        for (unsigned t = 0; t < DQ_THREADS; t++) {
            dequant_stage<Q>(src, stage, totalBytes, cta * n, n, t);
        }
        for (int k = 0; k < n; k++) {
            for (unsigned t = 0; t < DQ_THREADS; t++) {
                dequant_decode<Q, OUT>(reinterpret_cast<const u8*>(stage + k * Stage<Q>::VECS),
                        (typename Store<OUT>::T*) dst, octets, cta * n + k, t);
            }
        }
    }
}

// The fused matvec as one warp runs it, warp by warp: per round of `depth` 256-weight chunks,
// every lane's staging phase, then (after what is __syncwarp on the GPU) every lane's
// decode-and-accumulate phase; the 32 lanes' partial sums are then added (in lane order: only the
// float32 summation order differs from the GPU's butterfly, and the check has a tolerance for that).
template <class Q, int T> static void mv_run(const u8* W, const void* xv, void* yv, int N, int K, int B, int depth) {
    typedef typename Store<T>::T E;
    const E* x = (const E*) xv;
    E* y = (E*) yv;
    alignas(16) static u32 stage[MV_MAX_DEPTH * MV_CHUNK_WORDS];
    const int rowBlocks = K / Q::QK, roundBlocks = mv_round_blocks<Q>(depth);
    for (int n = 0; n < N; n++) {
        const u8* row = W + (i64) n * rowBlocks * Q::TS;
        float acc[32][MV_MAX_ROWS] = {};
        for (int blk = 0; blk < rowBlocks; blk += roundBlocks) {
            int blocks = rowBlocks - blk < roundBlocks ? rowBlocks - blk : roundBlocks;
            for (int lane = 0; lane < 32; lane++) mv_stage(row + (i64) blk * Q::TS, blocks * Q::TS, stage, lane);
            for (int lane = 0; lane < 32; lane++)
                mv_accumulate_round<Q, T>(stage, blk, blocks, lane, x, K, B, acc[lane]);
        }
        for (int b = 0; b < B; b++) {
            float s = 0;
            for (int lane = 0; lane < 32; lane++) s += acc[lane][b];
            y[(i64) b * N + n] = Store<T>::make(s);
        }
    }
}

template <template <int> class Q> static void mv_dispatch(int a, int t, const u8* W, const void* x, void* y, int N, int K, int B, int d) {
    if (a == 0 && t == 0) mv_run<Q<0>, 0>(W, x, y, N, K, B, d);
    if (a == 0 && t == 1) mv_run<Q<0>, 1>(W, x, y, N, K, B, d);
    if (a == 0 && t == 2) mv_run<Q<0>, 2>(W, x, y, N, K, B, d);
    if (a == 1 && t == 0) mv_run<Q<1>, 0>(W, x, y, N, K, B, d);
    if (a == 1 && t == 1) mv_run<Q<1>, 1>(W, x, y, N, K, B, d);
    if (a == 1 && t == 2) mv_run<Q<1>, 2>(W, x, y, N, K, B, d);
}

static std::vector<u8> slurp(const char* path) {
    FILE* f = std::fopen(path, "rb");
    std::vector<u8> in;
    int c;
    while ((c = std::fgetc(f)) != EOF) in.push_back((u8) c);
    std::fclose(f);
    return in;
}

// usage: check_host matvec TYPE ARITH T w.bin x.bin y.bin N K B DEPTH
static int matvec_main(char** argv) {
    std::string t = argv[2];
    int a = std::atoi(argv[3]), et = std::atoi(argv[4]);
    int N = std::atoi(argv[8]), K = std::atoi(argv[9]), B = std::atoi(argv[10]), D = std::atoi(argv[11]);
    std::vector<u8> w = slurp(argv[5]), x = slurp(argv[6]);
    std::vector<u8> y((size_t) N * B * 4);
    const u8* W = w.data();
    if (t == "Q4_0") mv_dispatch<Q4_0>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q4_1") mv_dispatch<Q4_1>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q5_0") mv_dispatch<Q5_0>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q5_1") mv_dispatch<Q5_1>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q8_0") mv_dispatch<Q8_0>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q2_K") mv_dispatch<Q2_K>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q3_K") mv_dispatch<Q3_K>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q4_K") mv_dispatch<Q4_K>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q5_K") mv_dispatch<Q5_K>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "Q6_K") mv_dispatch<Q6_K>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "IQ4_NL") mv_dispatch<IQ4_NL>(a, et, W, x.data(), y.data(), N, K, B, D);
    else if (t == "IQ4_XS") mv_dispatch<IQ4_XS>(a, et, W, x.data(), y.data(), N, K, B, D);
    else { std::fprintf(stderr, "unknown type %s\n", t.c_str()); return 2; }
    FILE* f = std::fopen(argv[7], "wb");
    std::fwrite(y.data(), 1, (size_t) N * B * (et == 0 ? 4 : 2), f);
    std::fclose(f);
    return 0;
}

// QK RMSNorm + RoPE, bf16 storage. usage (both kernels):
// check_host rmsrope|rmsropevec x.bin w.bin cos.bin sin.bin out.bin B S H D Sout tokenOffset tokenStride eps
struct RopeCase {
    std::vector<u8> x, w, c, s;
    int B, S, H, D, Sout, off;
    i64 tokenStride;
    float eps;
};

// rms_rope as one warp runs a row: every lane's first phase, the warp's butterfly sum
// (__shfl_xor_sync, emulated in its order: lane l adds lane l ^ o's value for o = 16, 8, 4, 2, 1,
// so every lane ends with the same bits as on the GPU), every lane's second phase.
static void rmsrope_warps(const RopeCase& k, std::vector<u8>& out) {
    int B = k.B, S = k.S, H = k.H, D = k.D, Sout = k.Sout, off = k.off;
    i64 tokenStride = k.tokenStride;
    float eps = k.eps;
    const std::vector<u8>&w = k.w, &c = k.c, &s = k.s, &x = k.x;
    // x is given from its first element; a row's start may be off a 4-byte boundary (odd strides)
    const u16* xp = (const u16*) x.data();
    i64 rows = (i64) B * S * H;
    for (i64 row = 0; row < rows; row++) {
        RmsRopeLane l[32];
        for (int lane = 0; lane < 32; lane++) {
            rms_rope_begin<2>(xp, (const u16*) w.data(), rows, S, H, D, tokenStride, (i64) S * tokenStride, row, lane,
                    l[lane]);
        }
        float v[32];
        for (int lane = 0; lane < 32; lane++) v[lane] = l[lane].sq;
        for (int o = 16; o > 0; o >>= 1) {
            float n[32];
            for (int lane = 0; lane < 32; lane++) n[lane] = v[lane] + v[lane ^ o];
            for (int lane = 0; lane < 32; lane++) v[lane] = n[lane];
        }
        for (int lane = 0; lane < 32; lane++) {
            float rstd = rsqrtf(v[lane] / (float) D + eps);
            rms_rope_end<2>((const float*) c.data(), (const float*) s.data(), (u16*) out.data(), S, H, D, Sout, off,
                    row, lane, l[lane], rstd);
        }
    }
}

// rms_rope_vec as its warps run: for each warp of each block of 256 threads, every lane's first
// phase, the butterfly over each group of G = D / 8 lanes (lane l adds lane l ^ o's value for
// o = G/2 .. 1, as __shfl_xor_sync does), every lane's second phase. x's rows must be 16-byte
// aligned (D and the stride multiples of 8).
static void rmsrope_vectors(const RopeCase& k, std::vector<u8>& out) {
    int B = k.B, S = k.S, H = k.H, D = k.D, Sout = k.Sout, off = k.off;
    i64 tokenStride = k.tokenStride;
    float eps = k.eps;
    const std::vector<u8>&w = k.w, &c = k.c, &s = k.s, &x = k.x;
    i64 rows = (i64) B * S * H;
    int G = D / 8;
    i64 perBlock = 8LL * (32 / G) * RRV_ROWS;
    blockDim.x = 256;
    for (i64 blk = 0; blk * perBlock < rows; blk++) {
        blockIdx.x = (unsigned) blk;
        for (int warp = 0; warp < 8; warp++) {
            RmsRopeVecLane l[32];
            for (int lane = 0; lane < 32; lane++) {
                threadIdx.x = warp * 32 + lane;
                rrv_begin<2>((const u16*) x.data(), (const u16*) w.data(), rows, S, H, D, tokenStride,
                        (i64) S * tokenStride, G, lane, l[lane]);
            }
            float sq[32][RRV_ROWS];
            for (int r = 0; r < RRV_ROWS; r++) {
                float v[32];
                for (int lane = 0; lane < 32; lane++) v[lane] = l[lane].sq[r];
                for (int o = G / 2; o > 0; o >>= 1) {
                    float n[32];
                    for (int lane = 0; lane < 32; lane++) n[lane] = v[lane] + v[lane ^ o];
                    for (int lane = 0; lane < 32; lane++) v[lane] = n[lane];
                }
                for (int lane = 0; lane < 32; lane++) sq[lane][r] = v[lane];
            }
            for (int lane = 0; lane < 32; lane++) {
                threadIdx.x = warp * 32 + lane;
                rrv_end<2>((const float*) c.data(), (const float*) s.data(), (u16*) out.data(), rows, S, H, D, Sout,
                        off, eps, G, lane, l[lane], sq[lane]);
            }
        }
    }
}

static int rmsrope_main(char** argv, bool vectors) {
    RopeCase k{slurp(argv[2]), slurp(argv[3]), slurp(argv[4]), slurp(argv[5]), std::atoi(argv[7]),
            std::atoi(argv[8]), std::atoi(argv[9]), std::atoi(argv[10]), std::atoi(argv[11]),
            std::atoi(argv[12]), std::atoll(argv[13]), (float) std::atof(argv[14])};
    std::vector<u8> out((size_t) k.B * k.Sout * k.H * k.D * 2, 0);
    if (vectors) {
        rmsrope_vectors(k, out);
    } else {
        rmsrope_warps(k, out);
    }
    FILE* f = std::fopen(argv[6], "wb");
    std::fwrite(out.data(), 1, out.size(), f);
    std::fclose(f);
    return 0;
}

template <template <int> class Q> static void dispatch(int a, int out, const u8* src, void* dst, i64 n, int k) {
    if (a == 0 && out == 0) run<Q<0>, 0>(src, dst, n, k);
    if (a == 0 && out == 1) run<Q<0>, 1>(src, dst, n, k);
    if (a == 0 && out == 2) run<Q<0>, 2>(src, dst, n, k);
    if (a == 1 && out == 0) run<Q<1>, 0>(src, dst, n, k);
    if (a == 1 && out == 1) run<Q<1>, 1>(src, dst, n, k);
    if (a == 1 && out == 2) run<Q<1>, 2>(src, dst, n, k);
}

int main(int argc, char** argv) {
    if (argc == 12 && std::string(argv[1]) == "matvec") return matvec_main(argv);
    if (argc == 15 && std::string(argv[1]) == "rmsrope") return rmsrope_main(argv, false);
    if (argc == 15 && std::string(argv[1]) == "rmsropevec") return rmsrope_main(argv, true);
    if (argc != 7 && argc != 8) { std::fprintf(stderr, "usage\n"); return 2; }
    int tiles = argc == 8 ? std::atoi(argv[7]) : 1;
    std::string t = argv[1];
    int a = std::atoi(argv[2]), out = std::atoi(argv[3]);
    i64 n = std::atoll(argv[6]);
    FILE* f = std::fopen(argv[4], "rb");
    std::vector<u8> in;
    int c;
    while ((c = std::fgetc(f)) != EOF) in.push_back((u8) c);
    std::fclose(f);
    std::vector<u8> dst(n * 4);
    const u8* s = in.data();
    void* d = dst.data();
    if (t == "Q4_0") dispatch<Q4_0>(a, out, s, d, n, tiles);
    else if (t == "Q4_1") dispatch<Q4_1>(a, out, s, d, n, tiles);
    else if (t == "Q5_0") dispatch<Q5_0>(a, out, s, d, n, tiles);
    else if (t == "Q5_1") dispatch<Q5_1>(a, out, s, d, n, tiles);
    else if (t == "Q8_0") dispatch<Q8_0>(a, out, s, d, n, tiles);
    else if (t == "Q2_K") dispatch<Q2_K>(a, out, s, d, n, tiles);
    else if (t == "Q3_K") dispatch<Q3_K>(a, out, s, d, n, tiles);
    else if (t == "Q4_K") dispatch<Q4_K>(a, out, s, d, n, tiles);
    else if (t == "Q5_K") dispatch<Q5_K>(a, out, s, d, n, tiles);
    else if (t == "Q6_K") dispatch<Q6_K>(a, out, s, d, n, tiles);
    else if (t == "IQ4_NL") dispatch<IQ4_NL>(a, out, s, d, n, tiles);
    else if (t == "IQ4_XS") dispatch<IQ4_XS>(a, out, s, d, n, tiles);
    else { std::fprintf(stderr, "unknown type %s\n", t.c_str()); return 2; }
    f = std::fopen(argv[5], "wb");
    std::fwrite(dst.data(), 1, n * (out == 0 ? 4 : 2), f);
    std::fclose(f);
    return 0;
}
