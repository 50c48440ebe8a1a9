#!/usr/bin/env python3
"""One line per mode and size from PipelineBenchmark JSON files (the GPU host returns few files)."""
import json
import sys

KEYS = ["totalSeconds", "textSeconds", "denoiseSeconds", "stepSeconds", "decodeSeconds", "modelMoveSeconds",
        "loadSeconds", "peakAllocatedGiB", "peakReservedGiB", "hostPeakRssGiB", "hostRssAfterLoadGiB",
        "hostPeakRssAfterLoadGiB", "hostRssAfterWarmupGiB", "hostPeakRssAfterWarmupGiB", "withinBudget"]
for path in sys.argv[1:]:
    try:
        d = json.load(open(path))
    except (OSError, ValueError) as e:
        print(path, "unreadable:", e)
        continue
    print(path, "hostToDeviceGBps=%.1f" % d.get("hostToDeviceGBps", 0))
    for r in d.get("results", []):
        vals = " ".join("%s=%s" % (k, ("%.3f" % r[k]) if isinstance(r[k], float) else r[k]) for k in KEYS if k in r)
        print("  %s %s x%s %s" % (r.get("mode"), r.get("requested"), r.get("steps"), vals))
