#!/usr/bin/env bash
# [RUNS=1024x1024:28] session-verify.sh [MODES] [TEST_TIMEOUT_S] : the memory-mode pipeline benchmark (issue 9), then flux-core's CUDA test classes,
# printing summaries to stdout (the host returns only a few of the files under $OUT).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
bash "$here/pipeline-bench.sh" "${1:-none,model,sequential,8G,4G}" "${RUNS:-1024x1024:28,680x496:60}"
python3 "$here/../bench/pipeline_summary.py" "$OUT"/pipeline-flux4j-*.json
timeout "${2:-200}" bash "$here/tests.sh" flux-core io.github.flux4j.core.cuda.CudaKernelsTest \
  io.github.flux4j.core.transformer.FluxTransformerCudaTest io.github.flux4j.core.offload.BlockStreamerCudaTest \
  io.github.flux4j.core.nn.CudaTest io.github.flux4j.core.text.TextEncoderCudaTest io.github.flux4j.core.vae.VaeCudaTest \
  io.github.flux4j.core.weights.binding.DeviceMoveTest io.github.flux4j.core.torch.FluxDeviceTest > /dev/null
grep -E "tests (successful|failed|skipped|aborted)|\[X\]|✘" "$OUT/tests-flux-core.log" | head -40
