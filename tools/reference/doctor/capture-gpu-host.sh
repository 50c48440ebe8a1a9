#!/usr/bin/env bash
# Captures what flux4j's CUDA check reads on a CUDA host, as test data for
# flux-core/src/test/resources/doctor/<host>/ (the check's parsers are tested against real output,
# without a GPU). Run on the GPU host; writes into OUT_DIR (default: .).
#   proc-driver-nvidia-version.txt   /proc/driver/nvidia/version
#   nvidia-smi.csv                   the query CudaCheck runs (NvidiaDriver.probe)
#   site-packages-nvidia-tree.txt    the library files of the CUDA 13 pip wheels: "path type size"
#   site-packages-dist-infos.txt     the wheels' .dist-info folders (cuDNN's version comes from its name)
#   cpuinfo.txt                      the flags and model name lines of /proc/cpuinfo
set -euo pipefail
out=${1:-.}
cat /proc/driver/nvidia/version > "$out/proc-driver-nvidia-version.txt"
nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv,noheader,nounits > "$out/nvidia-smi.csv"
nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]) + "/nvidia")')
(cd "$nv/.." && find nvidia -maxdepth 4 \( -name '*.so*' -o -type l \) -printf '%p %y %s\n' | sort) > "$out/site-packages-nvidia-tree.txt"
(cd "$nv/.." && ls -d nvidia_*) > "$out/site-packages-dist-infos.txt"
{ grep -m1 '^flags' /proc/cpuinfo; grep -m1 '^model name' /proc/cpuinfo; } > "$out/cpuinfo.txt"
