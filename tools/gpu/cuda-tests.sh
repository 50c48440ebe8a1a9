#!/usr/bin/env bash
# cuda-tests.sh : every CUDA test class of every module, one after another (tests.sh per module).
# Summary lines ("tests successful/failed") per module at the end; logs and XML under $OUT.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/tests.sh" flux-core io.github.flux4j.core.cuda.CudaKernelsTest \
  io.github.flux4j.core.transformer.FluxTransformerCudaTest io.github.flux4j.core.offload.BlockStreamerCudaTest \
  io.github.flux4j.core.nn.CudaTest io.github.flux4j.core.text.TextEncoderCudaTest io.github.flux4j.core.vae.VaeCudaTest \
  io.github.flux4j.core.weights.binding.DeviceMoveTest io.github.flux4j.core.torch.FluxDeviceTest \
  io.github.flux4j.core.transformer.FluxMathTest io.github.flux4j.core.cuda.CublasLtTest io.github.flux4j.core.cuda.CudaGraphTest > /dev/null
bash "$here/tests.sh" flux-pipeline io.github.flux4j.pipeline.FluxPipelineOffloadTest \
  io.github.flux4j.pipeline.FluxPipelineOutOfMemoryTest io.github.flux4j.pipeline.FluxPipelineBuildTest > /dev/null
bash "$here/tests.sh" flux-examples io.github.flux4j.examples.tools.FullWidthMemoryModesCudaTest \
  io.github.flux4j.examples.DoctorTest > /dev/null
for m in flux-core flux-pipeline flux-examples; do
  echo "== $m"; grep -E "tests (successful|failed|skipped|aborted)|\[X\]|✘" "$OUT/tests-$m.log" | head -40
done
