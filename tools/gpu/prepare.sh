#!/usr/bin/env bash
# Packs what the CUDA host needs besides the runtime: run from the repository root after
# `mvn -q -o package -DskipTests` and `mvn -q -o test-compile`.
set -euo pipefail
rm -rf .gpu/app && mkdir -p .gpu/app
cp flux-gguf/target/flux-gguf-*.jar flux-core/target/flux-core-*.jar flux-pipeline/target/flux-pipeline-*.jar .gpu/app/
cp flux-examples/target/flux-examples-*.jar .gpu/app/ 2>/dev/null || cp flux-examples/target/flux-examples.jar .gpu/app/
rm -f .gpu/app/*-sources.jar .gpu/app/*-javadoc.jar .gpu/app/*-tests.jar  # tests read resources from test-classes
for m in flux-gguf flux-core flux-pipeline; do
  [ -d $m/target/test-classes ] && cp -r $m/target/test-classes .gpu/app/$m-test-classes
done
[ -f .pydeps/pydeps.tgz ] || ../shared/peer-diffusers/make-pydeps.sh .pydeps/pydeps.tgz
du -sh .gpu/app .pydeps
