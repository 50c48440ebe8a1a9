#!/usr/bin/env bash
# lt-verify.sh [TYPES] : one device call for the cuBLASLt GEMM path (CublasLt).
#   flux-core's CUDA test classes that cover it (CublasLtTest, CudaTest, FluxTransformerCudaTest,
#   CudaKernelsTest, FluxMathTest, TextEncoderCudaTest; CudaGraphTest besides), then transformer-bench.sh Q8_0 with
#   lt,nolt,graph,reference and diffusers (kernels counted), then `lt` + diffusers for each further
#   type (default Q4_K). Everything under $OUT is packed into $OUT/lt-verify.tgz at the end (the host
#   returns at most 8 files).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
types=${1:-Q4_K}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
bash "$here/tests.sh" flux-core io.github.flux4j.core.cuda.CublasLtTest io.github.flux4j.core.nn.CudaTest \
  io.github.flux4j.core.transformer.FluxTransformerCudaTest io.github.flux4j.core.cuda.CudaKernelsTest \
  io.github.flux4j.core.transformer.FluxMathTest io.github.flux4j.core.text.TextEncoderCudaTest io.github.flux4j.core.cuda.CudaGraphTest > /dev/null
grep -E "tests (successful|failed)|✘|vs float64|vs reference|vs eager|relative" "$OUT/tests-flux-core.log" | head -60
COUNT_KERNELS=1 bash "$here/transformer-bench.sh" Q8_0 lt,nolt,graph,reference gguf
for t in ${types//,/ }; do bash "$here/transformer-bench.sh" "$t" lt gguf; done
(cd "$OUT" && tar czf /tmp/lt-verify.tgz --exclude=lt-verify.tgz . && rm -rf ./* && mv /tmp/lt-verify.tgz .)
