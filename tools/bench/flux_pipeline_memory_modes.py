#!/usr/bin/env python3
"""diffusers' FluxPipeline on the same synthetic FLUX.1-dev as flux4j's PipelineBenchmark, per
memory mode: all on the GPU, enable_model_cpu_offload(), enable_sequential_cpu_offload().

Derived from shared/peer-diffusers/flux_gguf_baseline.py (same timing and memory measurements:
per-step times through callback_on_step_end, torch.cuda peak statistics after
reset_peak_memory_stats), extended to run the *whole* pipeline from a base folder in diffusers'
layout (CLIP-L, T5-XXL, VAE, tokenizers, scheduler: `flux4j synthetic-base OUT`) with the
transformer from a GGUF (`flux4j synthetic-gguf --type Q8_0 OUT.gguf`), as flux4j loads them.

Each mode runs in its own child process with a timeout, so that a crash (diffusers issue 14691:
sequential CPU offload fails on GGUF transformers) is recorded with its exit status and the tail of
its output instead of ending the run. Results: one JSON file (--out), one entry per mode and size.

    python3 flux_pipeline_memory_modes.py --base /dev/shm/flux-base --gguf /dev/shm/flux-Q8_0.gguf \
        --out results-diffusers-memory.json [--modes none,model,sequential] [--runs 1024x1024:28,680x496:60]

Needs torch (CUDA), diffusers (with GGUF support: the gguf package), transformers, accelerate,
sentencepiece or tokenizers. HF_HUB_OFFLINE=1 is set: nothing is downloaded.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import traceback

FLUX_DEV_TRANSFORMER = {
    "_class_name": "FluxTransformer2DModel", "_diffusers_version": "0.30.0.dev0", "attention_head_dim": 128,
    "guidance_embeds": True, "in_channels": 64, "joint_attention_dim": 4096, "num_attention_heads": 24,
    "num_layers": 19, "num_single_layers": 38, "patch_size": 1, "pooled_projection_dim": 768,
}


def parse_runs(text):
    runs = []
    for r in text.split(","):
        size, steps = r.strip().split(":")
        w, h = size.lower().split("x")
        runs.append((int(w), int(h), int(steps)))
    return runs


def peak_rss_gib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 2**30
    return None


def worker(args):
    """One mode, in this (child) process; prints one JSON line prefixed RESULT: per size."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DIFFUSERS_GGUF_CUDA_KERNELS", "false")
    import numpy as np
    import torch
    from diffusers import FluxPipeline, FluxTransformer2DModel, GGUFQuantizationConfig

    dt = torch.bfloat16
    cuda = torch.cuda.is_available()

    def sync():
        if cuda:
            torch.cuda.synchronize()

    # from_single_file needs the transformer's config: a folder beside the results
    cfg_dir = os.path.join(args.work, "transformer-config")
    os.makedirs(os.path.join(cfg_dir, "transformer"), exist_ok=True)
    with open(os.path.join(cfg_dir, "transformer", "config.json"), "w") as f:
        json.dump(FLUX_DEV_TRANSFORMER, f)
    t0 = time.time()
    tr = FluxTransformer2DModel.from_single_file(
        args.gguf, quantization_config=GGUFQuantizationConfig(compute_dtype=dt), config=cfg_dir,
        subfolder="transformer", torch_dtype=dt, local_files_only=True)
    pipe = FluxPipeline.from_pretrained(args.base, transformer=tr, torch_dtype=dt, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    if args.worker == "none":
        pipe.to("cuda" if cuda else "cpu")
    elif args.worker == "model":
        pipe.enable_model_cpu_offload()
    elif args.worker == "sequential":
        pipe.enable_sequential_cpu_offload()
    else:
        raise SystemExit("unknown mode " + args.worker)
    sync()
    load_s = time.time() - t0
    for (w, h, steps) in parse_runs(args.runs):
        info = {"mode": args.worker, "requested": f"{w}x{h}", "steps": steps, "load_s": load_s}
        try:
            pipe(args.prompt, height=h, width=w, num_inference_steps=1, guidance_scale=3.5,
                 generator=torch.Generator("cpu").manual_seed(args.seed))  # warm-up
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            stamps = []

            def cb(p_, i, t, kw):
                sync()
                stamps.append(time.perf_counter())
                return kw

            sync()
            t1 = time.perf_counter()
            out = pipe(args.prompt, height=h, width=w, num_inference_steps=steps, guidance_scale=3.5,
                       generator=torch.Generator("cpu").manual_seed(args.seed), callback_on_step_end=cb)
            sync()
            t2 = time.perf_counter()
            diffs = np.diff(np.array([t1] + stamps))
            info.update({
                "e2e_s": t2 - t1,
                "first_step_s": float(diffs[0]),  # includes text encoding (and moves under offload)
                "step_median_s": float(np.median(diffs[1:])) if len(diffs) > 1 else float(diffs[0]),
                "denoise_total_s": stamps[-1] - t1,
                "after_denoise_s": t2 - stamps[-1],  # VAE decode (+ moves)
                "image_size_wh": list(out.images[0].size),
            })
            if cuda:
                info["peak_allocated_GiB"] = torch.cuda.max_memory_allocated() / 2**30
                info["peak_reserved_GiB"] = torch.cuda.max_memory_reserved() / 2**30
        except Exception as e:  # noqa: BLE001 - recorded, the next size runs
            info["error"] = repr(e)
            info["traceback"] = traceback.format_exc()[-3000:]
        info["host_peak_rss_GiB"] = peak_rss_gib()
        print("RESULT:" + json.dumps(info), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True, help="base model folder (flux4j synthetic-base)")
    p.add_argument("--gguf", required=True, help="transformer GGUF (flux4j synthetic-gguf)")
    p.add_argument("--out", required=True, help="results JSON")
    p.add_argument("--work", default=None, help="scratch folder (default: beside --out)")
    p.add_argument("--modes", default="none,model,sequential")
    p.add_argument("--runs", default="1024x1024:28,680x496:60")
    p.add_argument("--prompt", default="a lighthouse on a cliff at dusk, oil painting")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=900, help="seconds per mode")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.work is None:
        args.work = os.path.dirname(os.path.abspath(args.out))
    if args.worker:
        worker(args)
        return
    results = {"base": args.base, "gguf": args.gguf, "runs": args.runs, "modes": []}
    for mode in [m for m in args.modes.split(",") if m]:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--base", args.base, "--gguf", args.gguf,
               "--out", args.out, "--work", args.work, "--runs", args.runs, "--prompt", args.prompt,
               "--seed", str(args.seed)]
        t0 = time.time()
        entry = {"mode": mode}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            entry["exit_status"] = proc.returncode  # negative: killed by that signal (a crash)
            entry["results"] = [json.loads(line[len("RESULT:"):]) for line in proc.stdout.splitlines()
                                if line.startswith("RESULT:")]
            if proc.returncode != 0:
                entry["output_tail"] = (proc.stdout + proc.stderr)[-4000:]
        except subprocess.TimeoutExpired as e:
            entry["exit_status"] = None
            entry["error"] = f"timed out after {args.timeout} s"
            entry["output_tail"] = str(e.stdout or "")[-2000:]
        entry["wall_s"] = time.time() - t0
        results["modes"].append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k != "output_tail"}, indent=1), flush=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print("wrote " + args.out)


if __name__ == "__main__":
    main()
