#!/usr/bin/env bash
# pipeline-bench.sh MODES [RUNS]
#   flux4j's PipelineBenchmark, ONE PROCESS PER MODE (so a mode's host RSS and load time are its own),
#   on a synthetic FLUX.1-dev (Q8_0 transformer + diffusers-layout base) kept in /dev/shm/flux4j-pb,
#   written on first use. MODES: none,model,sequential,12G,8G,6G,4G; RUNS: 1024x1024:28,680x496:60.
#   JSON and logs under $OUT (pipeline-flux4j-MODE.json/.log).
set -uo pipefail
. /root/gpuhost/rt/env.sh
modes=$1; runs=${2:-1024x1024:28,680x496:60}
app=$(cd .gpu/app && pwd)
J=("$JAVA" -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -Dorg.bytedeco.javacpp.maxBytes=0 -cp "$RT_CP:$app/*")
w=/dev/shm/flux4j-pb
if [ ! -f $w/done ]; then
  rm -rf $w && mkdir -p $w
  "${J[@]}" io.github.flux4j.examples.tools.SyntheticFluxGguf --type Q8_0 $w/flux-Q8_0.gguf 2>&1 | tail -1
  "${J[@]}" io.github.flux4j.examples.tools.SyntheticFluxBase $w/base 2>&1 | tail -1
  touch $w/done
fi
for m in ${modes//,/ }; do
  "${J[@]}" io.github.flux4j.examples.bench.PipelineBenchmark --transformer $w/flux-Q8_0.gguf --base-model $w/base \
    --modes "$m" --runs "$runs" --json "$OUT/pipeline-flux4j-$m.json" > "$OUT/pipeline-flux4j-$m.log" 2>&1
  echo "rc=$? $m"; grep -E "page-locked|^\|" "$OUT/pipeline-flux4j-$m.log" | tail -8
done
