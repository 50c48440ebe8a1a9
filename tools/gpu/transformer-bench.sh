#!/usr/bin/env bash
# transformer-bench.sh TYPE PATHS DIFFUSERS_MODES [SIZES]
#   TYPE: Q8_0, Q4_K, ..., BF16 (block type of the synthetic FLUX.1-dev GGUF)
#   PATHS: flux4j paths (fast,reference,cached,nomatvec); DIFFUSERS_MODES: gguf, dense, gguf+dense or none
# flux4j and diffusers run back to back on the same file; JSON under $OUT.
# COUNT_KERNELS=1: both also trace one more forward per size (CUPTI / torch.profiler): kernels per step.
set -uo pipefail
. /root/gpuhost/rt/env.sh
type=$1; paths=$2; dmodes=$3; sizes=${4:-1024x1024,672x496}
app=$(cd .gpu/app && pwd)
f=/dev/shm/flux-dev-$type.gguf
count=""; fl=25; dl=6; [ "${COUNT_KERNELS:-0}" = 1 ] && count=--count-kernels && fl=60 && dl=8  # lines of output kept
# FLUX4J_OPTS: extra -D flags for flux4j's JVMs (kernel choices measured earlier in the same call)
J=("$JAVA" -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -Dorg.bytedeco.javacpp.maxBytes=0 ${FLUX4J_OPTS:-} -cp "$RT_CP:$app/*")
"${J[@]}" io.github.flux4j.examples.tools.SyntheticFluxGguf --type "$type" "$f" 2>&1 | tail -1
"${J[@]}" io.github.flux4j.examples.bench.TransformerBenchmark --file "$f" --sizes "$sizes" --sdpa cudnn \
  --paths "$paths" --warmup 3 --iters 10 $count --json "$OUT/flux4j-$type.json" 2>&1 | grep -v "^\s*$" | tail -$fl
if [ "$dmodes" != none ]; then
  mkdir -p /tmp/py && [ -d /tmp/py/diffusers ] || tar -xzf .pydeps/pydeps.tgz -C /tmp/py
  for mode in ${dmodes//+/ }; do
    extra=""; [ "$mode" = dense ] && extra=--dense
    PYTHONPATH=/tmp/py PYTHONUNBUFFERED=1 python3 tools/bench/diffusers_transformer_bench.py --gguf "$f" --sizes "$sizes" \
      --warmup 3 --iters 10 $extra $count --json "$OUT/diffusers-$type-$mode.json" 2>&1 | grep -v Warning | tail -$dl
  done
fi
rm -f "$f"
