#!/usr/bin/env bash
# [TESTS=0] [PATHS=fast,...] kernel-verify.sh [TYPES] : one device call that checks and times a change to the CUDA kernels
# (flux_kernels.cu, CudaKernels), printing what matters to stdout (the host returns few files):
#   1. flux-core's kernel, linear and transformer CUDA tests (bit-exactness, every depth/tile count,
#      fast vs reference path);
#   2. OpBenchmark at 1024x1024 (per-op GPU time, with a row per matvec depth and dequant tile count);
#   3. transformer-bench.sh for each of TYPES (default Q8_0): flux4j fast, reference, cached, and without the GELU
#      epilogue or the split single-block linears (paths nogeluepilogue, nosplit), and diffusers'
#      GGUF path back to back, 1024x1024 and 672x496 (TYPES none: steps 1 and 2 only).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. /root/gpuhost/rt/env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
if [ "${TESTS:-1}" != 0 ]; then  # TESTS=0: when session-verify.sh ran them in this session
  timeout 300 bash "$here/tests.sh" flux-core io.github.flux4j.core.cuda.CudaKernelsTest \
    io.github.flux4j.core.transformer.FluxTransformerCudaTest io.github.flux4j.core.nn.CudaTest > /dev/null
  grep -E "tests (successful|failed|skipped|aborted)|\[X\]|✘" "$OUT/tests-flux-core.log" | head -30
fi
app=$(cd .gpu/app && pwd)
"$JAVA" -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -Dorg.bytedeco.javacpp.maxBytes=0 -cp "$RT_CP:$app/*" \
  io.github.flux4j.examples.bench.OpBenchmark --size 1024x1024 2>&1 | tee "$OUT/ops-1024.txt" | grep "^|"
for t in ${1:-Q8_0}; do
  [ "$t" = none ] && break  # tests and OpBenchmark only
  bash "$here/transformer-bench.sh" "$t" "${PATHS:-fast,reference,cached,nosplit,nogeluepilogue}" gguf
done
