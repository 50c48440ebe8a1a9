#!/usr/bin/env bash
# tests.sh MODULE CLASS... : runs CUDA test classes of MODULE on the host (from the module's folder,
# as surefire does, so relative reference paths resolve). Log and XML reports under $OUT.
set -uo pipefail
. /root/gpuhost/rt/env.sh
m=$1; shift
sel=(); for c in "$@"; do sel+=(--select-class "$c"); done
app=$(cd .gpu/app && pwd)
cp="$RT_CP:$app/*"; for d in "$app"/*-test-classes; do cp="$cp:$d"; done
cd "$m"
"$JAVA" -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -Dorg.bytedeco.javacpp.maxBytes=0 -Dflux4j.cuda.cacheDir=none \
  -cp "$cp" org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=tree \
  --reports-dir "$OUT/junit-$m" "${sel[@]}" 2>&1 | tee -a "$OUT/tests-$m.log" | grep -v "^\s*$" | tail -120
