#!/usr/bin/env bash
# ln-choice.sh OPS_TABLE : prints -Dflux4j.cuda.lnModulate=<kind> for the LayerNorm + modulation kernel
# that OpBenchmark measured fastest (its "ln+modulate kernel, <kind>" rows; only the kinds CudaKernels
# still has, pair and row), so that the transformer runs of the same device call use it
# (export FLUX4J_OPTS="$(tools/gpu/ln-choice.sh $OUT/ops-1024.txt)").
set -euo pipefail
awk -F'|' '/ln\+modulate kernel, (pair|row) / { k = $2; sub(/.*kernel, /, "", k); gsub(/ /, "", k); ms = $5 + 0;
  if (best == "" || ms < bestMs) { best = k; bestMs = ms } } END { if (best != "") print "-Dflux4j.cuda.lnModulate=" best }' "$1"
