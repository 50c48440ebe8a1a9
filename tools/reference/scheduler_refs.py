#!/usr/bin/env python3
"""Reference schedules and Euler steps of diffusers' FlowMatchEulerDiscreteScheduler as FluxPipeline drives it.

Writes into flux-pipeline/src/test/resources/reference/scheduler/:
    schedules.json        one entry per (config, steps, height, width): FluxPipeline's float64 linspace sigmas,
                          image_seq_len, mu (calculate_shift), and the scheduler's float32 sigmas (N+1, terminal
                          appended) and timesteps (N) after set_timesteps(sigmas=..., mu=...); plus a few cases of
                          set_timesteps(num_inference_steps=N, mu=...) without sigmas ("mode": "steps").
    configs/<name>.json   the scheduler_config.json files used (dev and schnell as on the Hub, plus variants that
                          exercise shift_terminal, invert_sigmas, the linear time shift and the static shift).
    steps.safetensors     step() results on fixed tensors (see STEP CASES below), and the timestep tensor the
                          pipeline feeds the transformer (t.expand(B).to(dtype) / 1000).

Every float is written as Python's repr of the exact value (float32 values widened to float64 exactly), so that
Double.parseDouble followed by a (float) cast gives back the same bits. Run from the repository root:
    mkdir -p /tmp/diffusers && git -C /work/.mirror/huggingface+diffusers/repo archive HEAD src/diffusers \
        | tar -x -C /tmp/diffusers
    PYTHONPATH=/tmp/diffusers/src /tmp/ref/bin/python tools/reference/scheduler_refs.py
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

import diffusers
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.flux.pipeline_flux import calculate_shift, retrieve_timesteps

OUT = Path("flux-pipeline/src/test/resources/reference/scheduler")

# black-forest-labs/FLUX.1-dev and FLUX.1-schnell scheduler/scheduler_config.json, verbatim.
CONFIGS: dict[str, dict] = {
    "dev": {
        "_class_name": "FlowMatchEulerDiscreteScheduler",
        "_diffusers_version": "0.30.0.dev0",
        "base_image_seq_len": 256,
        "base_shift": 0.5,
        "max_image_seq_len": 4096,
        "max_shift": 1.15,
        "num_train_timesteps": 1000,
        "shift": 3.0,
        "use_dynamic_shifting": True,
    },
    "schnell": {
        "_class_name": "FlowMatchEulerDiscreteScheduler",
        "_diffusers_version": "0.29.0.dev0",
        "base_image_seq_len": 256,
        "base_shift": 0.5,
        "max_image_seq_len": 4096,
        "max_shift": 1.15,
        "num_train_timesteps": 1000,
        "shift": 1.0,
        "use_dynamic_shifting": False,
    },
}
# Variants: the dev config with one documented option changed each.
CONFIGS["dev-shift-terminal"] = {**CONFIGS["dev"], "shift_terminal": 0.1}
CONFIGS["dev-invert"] = {**CONFIGS["dev"], "invert_sigmas": True}
CONFIGS["dev-linear"] = {**CONFIGS["dev"], "time_shift_type": "linear"}
CONFIGS["static-shift-3"] = {**CONFIGS["dev"], "use_dynamic_shifting": False}
CONFIGS["static-shift-terminal"] = {**CONFIGS["dev"], "use_dynamic_shifting": False, "shift_terminal": 0.02}

# (height, width) in pixels: square, non-square, not multiples of 16 (rounded down), tiny and huge.
SIZES = [(256, 256), (512, 512), (768, 1360), (1024, 1024), (1024, 768), (680, 496), (1080, 1920),
         (2048, 2048), (300, 200), (16, 16), (4096, 4096)]
STEPS = [1, 2, 3, 4, 8, 20, 28, 50]


def scheduler_for(name: str) -> FlowMatchEulerDiscreteScheduler:
    cfg = {k: v for k, v in CONFIGS[name].items() if not k.startswith("_")}
    return FlowMatchEulerDiscreteScheduler.from_config(cfg)


def floats(a) -> list[float]:
    return [float(x) for x in np.asarray(a, dtype=np.float64).reshape(-1)]


def seq_len(height: int, width: int, vae_scale_factor: int = 8) -> int:
    # prepare_latents: latent side 2 * (px // 16); packed tokens (h/2) * (w/2)
    h = 2 * (int(height) // (vae_scale_factor * 2))
    w = 2 * (int(width) // (vae_scale_factor * 2))
    return (h // 2) * (w // 2)


def pipeline_schedule(config: str, steps: int, height: int, width: int) -> dict:
    """Steps 5 of FluxPipeline.__call__, verbatim apart from the names."""
    sched = scheduler_for(config)
    sigmas = np.linspace(1.0, 1 / steps, steps)
    image_seq_len = seq_len(height, width)
    mu = calculate_shift(
        image_seq_len,
        sched.config.get("base_image_seq_len", 256),
        sched.config.get("max_image_seq_len", 4096),
        sched.config.get("base_shift", 0.5),
        sched.config.get("max_shift", 1.15),
    )
    timesteps, n = retrieve_timesteps(sched, steps, "cpu", sigmas=sigmas, mu=mu)
    assert n == steps and sched.sigmas.dtype == torch.float32 and timesteps.dtype == torch.float32
    return {
        "mode": "sigmas", "config": config, "steps": steps, "height": height, "width": width,
        "image_seq_len": image_seq_len, "mu": float(mu),
        "input_sigmas": floats(sigmas),
        "sigmas": floats(sched.sigmas), "timesteps": floats(timesteps),
    }


def steps_schedule(config: str, steps: int, mu: float | None) -> dict:
    """set_timesteps(num_inference_steps=N, mu=mu) without custom sigmas (not FluxPipeline's path)."""
    sched = scheduler_for(config)
    sched.set_timesteps(steps, device="cpu", mu=mu)
    return {
        "mode": "steps", "config": config, "steps": steps, "mu": mu,
        "sigmas": floats(sched.sigmas), "timesteps": floats(sched.timesteps),
    }


# ---------------------------------------------------------------------------------------------
# STEP CASES. Fixed tensors from a seeded CPU generator: sample x (2, 6, 64) and model outputs v_i, one per
# step, run through the dev 1024^2 28-step schedule; the first three and last three steps are kept (the last
# one reaches the terminal sigma 0), the pipeline way: set_begin_index(0), step(v_i, t_i, x) for consecutive i.
def step_cases(device: str = "cpu") -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    g = torch.Generator("cpu").manual_seed(1234)
    shape = (2, 6, 64)
    for name, x_dtype, v_dtype in [("bf16", torch.bfloat16, torch.bfloat16),
                                   ("f32", torch.float32, torch.float32),
                                   ("f16", torch.float16, torch.float16),
                                   ("mixed", torch.float32, torch.bfloat16)]:
        sched = scheduler_for("dev")
        steps = 28
        sigmas = np.linspace(1.0, 1 / steps, steps)
        timesteps, _ = retrieve_timesteps(sched, steps, device, sigmas=sigmas, mu=calculate_shift(4096))
        sched.set_begin_index(0)
        x = (torch.randn(shape, generator=g) * 1.5).to(x_dtype)
        out[f"step.{name}.sample"] = x.clone()
        x = x.to(device)
        for i, t in enumerate(timesteps):
            v = (torch.randn(shape, generator=g) * 2.0).to(v_dtype)
            x = sched.step(v.to(device), t, x, return_dict=False)[0]
            if i < 3 or i >= steps - 3:  # keep the file small: the first three and last three steps
                out[f"step.{name}.{i}.model_output"] = v
                out[f"step.{name}.{i}.prev_sample"] = x.cpu().clone()
        assert x.dtype == v_dtype, (x.dtype, v_dtype)
    # The transformer's timestep input, as __call__ builds it: t.expand(B).to(latents.dtype) / 1000.
    sched = scheduler_for("dev")
    timesteps, _ = retrieve_timesteps(sched, 28, device, sigmas=np.linspace(1.0, 1 / 28, 28), mu=calculate_shift(4096))
    for dname, dtype in [("bf16", torch.bfloat16), ("f32", torch.float32), ("f16", torch.float16)]:
        out[f"timestep.{dname}"] = torch.stack([t.expand(2).to(dtype) / 1000 for t in timesteps]).cpu()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    ap.add_argument("--device", default="cpu", help="where the step() cases run (default cpu; the files name it)")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "configs").mkdir(exist_ok=True)
    for name, cfg in CONFIGS.items():
        (out / "configs" / f"{name}.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    cases = []
    for steps in STEPS:
        for (h, w) in SIZES:
            cases.append(pipeline_schedule("dev", steps, h, w))
    for (h, w) in [(1024, 1024), (680, 496)]:
        cases.append(pipeline_schedule("dev", 100, h, w))
        for steps in STEPS + [100]:  # no dynamic shifting: the size only changes mu, which is ignored
            cases.append(pipeline_schedule("schnell", steps, h, w))
    # shift_terminal with a single step divides 0 by 0 in diffusers (NaN sigmas); Java refuses it instead.
    for config in ["dev-shift-terminal", "dev-invert", "dev-linear", "static-shift-3", "static-shift-terminal"]:
        for steps in ([2, 4, 28] if "terminal" in config else [1, 4, 28]):
            for (h, w) in [(1024, 1024), (680, 496)]:
                cases.append(pipeline_schedule(config, steps, h, w))
    for config, mu in [("dev", 1.15), ("dev", 0.6770572916666666), ("schnell", None), ("static-shift-3", None),
                       ("dev-shift-terminal", 0.8), ("dev-linear", 1.15)]:
        for steps in ([2, 4, 28, 50] if "terminal" in config else [1, 4, 28, 50]):
            cases.append(steps_schedule(config, steps, mu))

    meta = {
        "generator": "tools/reference/scheduler_refs.py",
        "diffusers": diffusers.__version__, "torch": torch.__version__, "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    # One case per line: readable diffs, small file.
    lines = ",\n".join("  " + json.dumps(c) for c in cases)
    (out / "schedules.json").write_text('{"meta": ' + json.dumps(meta) + ',\n "cases": [\n' + lines + "\n]}\n")
    meta["step_device"] = args.device
    tensors = {k: v.contiguous() for k, v in sorted(step_cases(args.device).items())}
    save_file(tensors, str(out / "steps.safetensors"), metadata={k: str(v) for k, v in meta.items()})
    print(f"{len(cases)} schedules, {len(tensors)} step tensors -> {out}")


if __name__ == "__main__":
    main()
