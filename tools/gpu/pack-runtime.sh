#!/usr/bin/env bash
# pack-runtime.sh : the Java runtime for the CUDA host (../shared/gpu-host), from a -Pcuda build:
#   mvn -q -Pcuda -Dflux4j.target=target-gpu -pl flux-examples -am package -DskipTests
#   TARGET=target-gpu tools/gpu/pack-runtime.sh      # writes .gpu/rt/00, 01, ... (ignored by git)
# Jars: flux-examples' runtime dependencies with the linux-x86_64-gpu natives (not the project's own
# jars, which prepare.sh packs), plus the JUnit console launcher, AssertJ and Byte Buddy for the
# CUDA test classes. Parts are 46 MiB, not the shared script's 60: a call carries one part beside
# the working tree (about 14 MB), and the whole call must stay under 64 MiB.
set -euo pipefail
t=${TARGET:-target}
lib=flux-examples/$t/lib
ls "$lib"/pytorch-*-linux-x86_64-gpu.jar > /dev/null 2>&1 || { echo "no CUDA natives in $lib: build with -Pcuda" >&2; exit 2; }
r=${M2_REPO:-$HOME/.m2/repository}
junit=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' pom.xml)
assertj=$(sed -n 's:.*<assertj.version>\(.*\)</assertj.version>.*:\1:p' pom.xml)
platform=1.${junit#5.}  # JUnit 5.x.y ships platform 1.x.y
mvn -q -B dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:$platform
mvn -q -B dependency:get -Dartifact=org.assertj:assertj-core:$assertj
bb=$(sed -n '/<artifactId>byte-buddy<\/artifactId>/{n;s:.*<version>\(.*\)</version>.*:\1:p}' \
  "$r/org/assertj/assertj-core/$assertj/assertj-core-$assertj.pom" | head -1)
mvn -q -B dependency:get -Dartifact=net.bytebuddy:byte-buddy:$bb
jars=$(ls "$lib"/*.jar | grep -v "/flux-[a-z]*-[0-9]")
sed 's/split -b 60m/split -b 46m/' ../shared/gpu-host/pack-runtime > "${TMPDIR:-/tmp}/pack-runtime-46m"
bash "${TMPDIR:-/tmp}/pack-runtime-46m" .gpu/rt $jars \
  "$r/org/junit/platform/junit-platform-console-standalone/$platform/junit-platform-console-standalone-$platform.jar" \
  "$r/org/assertj/assertj-core/$assertj/assertj-core-$assertj.jar" "$r/net/bytebuddy/byte-buddy/$bb/byte-buddy-$bb.jar"
