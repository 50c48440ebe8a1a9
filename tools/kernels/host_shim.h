// Host emulation of the few CUDA constructs flux_kernels.cu uses, so its block decoders and
// element-wise kernels can be checked on a CPU (g++ 12+, x86-64) against gguf-py and numpy
// before any GPU time is spent. Kernels run as plain loops over (block, thread); warp shuffles
// and __syncthreads are emulated only by check_host.cpp's own drivers (it calls the *_body
// functions of the dequantization and gated-residual kernels, which use neither).
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>
#define FLUX_HOST_EMULATION 1
#define __device__
#define __forceinline__ inline
#define __global__
#define __constant__
#define __launch_bounds__(...)
#define __shared__ static
struct Dim3 { unsigned x = 0, y = 0, z = 0; };
static Dim3 blockIdx, threadIdx, blockDim;
template <class T> static inline T __ldg(const T* p) { return *p; }
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct uint4 { unsigned x, y, z, w; };
static inline float2 make_float2(float a, float b) { return {a, b}; }
static inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
static inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
static inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
static inline float h2f(unsigned short h) { _Float16 v; std::memcpy(&v, &h, 2); return (float) v; }
static inline unsigned short f2h(float f) { _Float16 v = (_Float16) f; unsigned short h; std::memcpy(&h, &v, 2); return h; }
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static inline float __shfl_xor_sync(unsigned, float v, int) { return v; }
static inline void __syncthreads() {}
static inline void __syncwarp() {}
