// Dequantizes raw GGML blocks with flux_kernels.cu's decoders on the host.
// usage: check_host TYPE ARITH OUT in.bin out.bin numel   (ARITH 0 float32 / 1 float16; OUT 0 f32, 1 f16, 2 bf16)
#include "host_shim.h"
#include "../../flux-core/src/main/resources/io/github/flux4j/core/cuda/flux_kernels.cu"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

// The staged kernel as the GPU runs it: per CTA, every thread's stage phase, then (after what is
// __syncthreads on the GPU) every thread's decode phase.
template <class Q, int OUT> static void run(const u8* src, void* dst, i64 numel) {
    i64 octets = numel / 8;
    i64 totalBytes = numel / Q::QK * Q::TS;
    static uint4 stage[Stage<Q>::VECS];
    for (i64 cta = 0; cta * DQ_THREADS < octets; cta++) {
        for (unsigned t = 0; t < DQ_THREADS; t++) {
            dequant_stage<Q>(src, stage, totalBytes, cta, t);
        }
        for (unsigned t = 0; t < DQ_THREADS; t++) {
            dequant_decode<Q, OUT>(reinterpret_cast<const u8*>(stage), (typename Store<OUT>::T*) dst, octets, cta, t);
        }
    }
}

template <template <int> class Q> static void dispatch(int a, int out, const u8* src, void* dst, i64 n) {
    if (a == 0 && out == 0) run<Q<0>, 0>(src, dst, n);
    if (a == 0 && out == 1) run<Q<0>, 1>(src, dst, n);
    if (a == 0 && out == 2) run<Q<0>, 2>(src, dst, n);
    if (a == 1 && out == 0) run<Q<1>, 0>(src, dst, n);
    if (a == 1 && out == 1) run<Q<1>, 1>(src, dst, n);
    if (a == 1 && out == 2) run<Q<1>, 2>(src, dst, n);
}

int main(int argc, char** argv) {
    if (argc != 7) { std::fprintf(stderr, "usage\n"); return 2; }
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
    if (t == "Q4_0") dispatch<Q4_0>(a, out, s, d, n);
    else if (t == "Q4_1") dispatch<Q4_1>(a, out, s, d, n);
    else if (t == "Q5_0") dispatch<Q5_0>(a, out, s, d, n);
    else if (t == "Q5_1") dispatch<Q5_1>(a, out, s, d, n);
    else if (t == "Q8_0") dispatch<Q8_0>(a, out, s, d, n);
    else if (t == "Q2_K") dispatch<Q2_K>(a, out, s, d, n);
    else if (t == "Q3_K") dispatch<Q3_K>(a, out, s, d, n);
    else if (t == "Q4_K") dispatch<Q4_K>(a, out, s, d, n);
    else if (t == "Q5_K") dispatch<Q5_K>(a, out, s, d, n);
    else if (t == "Q6_K") dispatch<Q6_K>(a, out, s, d, n);
    else if (t == "IQ4_NL") dispatch<IQ4_NL>(a, out, s, d, n);
    else if (t == "IQ4_XS") dispatch<IQ4_XS>(a, out, s, d, n);
    else { std::fprintf(stderr, "unknown type %s\n", t.c_str()); return 2; }
    f = std::fopen(argv[5], "wb");
    std::fwrite(dst.data(), 1, n * (out == 0 ? 4 : 2), f);
    std::fclose(f);
    return 0;
}
