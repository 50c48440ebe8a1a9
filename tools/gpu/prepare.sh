#!/usr/bin/env bash
# Packs what the CUDA host needs besides the runtime, from a build into TARGET (default target):
#   mvn -q -o -Dflux4j.target=target-gpu -pl flux-examples -am package test-compile -DskipTests
#   TARGET=target-gpu tools/gpu/prepare.sh
set -euo pipefail
t=${TARGET:-target}
rm -rf .gpu/app && mkdir -p .gpu/app
cp flux-gguf/$t/flux-gguf-*.jar flux-tokenizers/$t/flux-tokenizers-*.jar flux-core/$t/flux-core-*.jar flux-pipeline/$t/flux-pipeline-*.jar .gpu/app/
cp flux-examples/$t/flux-examples*.jar .gpu/app/
rm -f .gpu/app/*-sources.jar .gpu/app/*-javadoc.jar .gpu/app/*-tests.jar  # tests read resources from test-classes
for m in flux-gguf flux-tokenizers flux-core flux-pipeline flux-examples; do
  [ -d $m/$t/test-classes ] && cp -r $m/$t/test-classes .gpu/app/$m-test-classes
done
[ -f .pydeps/pydeps.tgz ] || ../shared/peer-diffusers/make-pydeps.sh .pydeps/pydeps.tgz
du -sh .gpu/app .pydeps
