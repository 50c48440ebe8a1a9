"""One FLUX transformer forward (= one FLUX.1-dev denoising step) in diffusers, timed like flux4j's
TransformerBenchmark, on the SAME GGUF file (written by flux4j's SyntheticFluxGguf), so both are
measured back to back on one machine with identical weights.

  PYTHONPATH=<diffusers src + gguf-py> python3 diffusers_transformer_bench.py --gguf F.gguf \
      --sizes 1024x1024,672x496 --json out.json [--dense]

The model is loaded with FluxTransformer2DModel.from_single_file(..., GGUFQuantizationConfig(bf16))
(diffusers' GGUF path: each GGUF linear is dequantized with torch ops on every forward; the
`kernels` package is not used). --dense dequantizes every GGUF parameter once into plain bf16
nn.Linear weights (diffusers' speed with dense weights). Inputs as in FluxPipeline: packed latents
[1, h/16*w/16, 64], 512 T5 tokens of width 4096, pooled [1, 768], timestep 1.0, guidance 3.5,
random (seed 42); attention: torch's default SDPA dispatch (cuDNN on an H200 with torch 2.11).
Per configuration: warm-up forwards, then timed forwards each followed by synchronize(); median,
p90; peak allocated/reserved after resetting the peak statistics with only the weights resident.
"""
import argparse, json, time, statistics, sys, os
import torch

p = argparse.ArgumentParser()
p.add_argument("--gguf", required=True)
p.add_argument("--sizes", default="1024x1024,672x496")
p.add_argument("--txt-tokens", type=int, default=512)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--iters", type=int, default=10)
p.add_argument("--dense", action="store_true", help="dequantize every GGUF weight once (plain bf16 linears)")
p.add_argument("--json", default=None)
p.add_argument("--count-kernels", action="store_true",
               help="after the timed forwards, one more under torch.profiler: kernels per step (memcpy/memset apart)")
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
args = p.parse_args()

from diffusers import FluxTransformer2DModel, GGUFQuantizationConfig
import diffusers

dev = torch.device(args.device)
DT = torch.bfloat16
cuda = dev.type == "cuda"


def sync():
    if cuda:
        torch.cuda.synchronize()




def count_kernels(fwd):
    """One forward under torch.profiler (CUDA activity = CUPTI's kernel records, as flux4j's KernelTrace)."""
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fwd()
        sync()
    kernels, copies, kernel_us, by_name = 0, 0, 0.0, {}
    for e in prof.events():
        if e.device_type != torch.autograd.DeviceType.CUDA:
            continue
        if e.name.startswith(("Memcpy", "Memset")):
            copies += 1
            continue
        kernels += 1
        us = e.time_range.elapsed_us()
        kernel_us += us
        c = by_name.setdefault(e.name[:90], [0, 0.0])
        c[0] += 1
        c[1] += us
    top = sorted(by_name.items(), key=lambda kv: -kv[1][1])[:25]
    return {"kernels": kernels, "memcpy_memset": copies, "kernel_ms": round(kernel_us / 1e3, 2),
            "top_kernels": [{"name": n, "count": c, "ms": round(us / 1e3, 3)} for n, (c, us) in top]}


def write_config(gguf_path):
    """A diffusers transformer config.json for the GGUF's shapes (FLUX.1's RoPE axes for head dim 128)."""
    import gguf
    r = gguf.GGUFReader(gguf_path)
    shapes = {}
    for t in r.tensors:
        n = t.name[len("model.diffusion_model."):] if t.name.startswith("model.diffusion_model.") else t.name
        shapes[n] = [int(v) for v in reversed(t.shape.tolist())]  # GGUF lists dims innermost first
    hidden, in_ch = shapes["img_in.weight"]
    head = shapes["double_blocks.0.img_attn.norm.query_norm.scale"][0]
    depth = len({k.split(".")[1] for k in shapes if k.startswith("double_blocks.")})
    single = len({k.split(".")[1] for k in shapes if k.startswith("single_blocks.")})
    axes = [16, 56, 56] if head == 128 else [head // 4, 3 * head // 8, 3 * head // 8]
    cfg = {"_class_name": "FluxTransformer2DModel", "patch_size": 1, "in_channels": in_ch,
           "out_channels": shapes["final_layer.linear.weight"][0], "num_layers": depth, "num_single_layers": single,
           "attention_head_dim": head, "num_attention_heads": hidden // head,
           "joint_attention_dim": shapes["txt_in.weight"][1], "pooled_projection_dim": shapes["vector_in.in_layer.weight"][1],
           "guidance_embeds": "guidance_in.in_layer.weight" in shapes, "axes_dims_rope": axes}
    folder = os.path.join(os.path.dirname(os.path.abspath(args.json or gguf_path)), "diffusers-config")
    os.makedirs(os.path.join(folder, "transformer"), exist_ok=True)
    with open(os.path.join(folder, "transformer", "config.json"), "w") as f:
        json.dump(cfg, f)
    return folder


t0 = time.perf_counter()
model = FluxTransformer2DModel.from_single_file(args.gguf, quantization_config=GGUFQuantizationConfig(compute_dtype=DT),
                                                config=write_config(args.gguf), subfolder="transformer", torch_dtype=DT,
                                                local_files_only=True)
t_load = time.perf_counter() - t0
if args.dense:
    from diffusers.quantizers.gguf.utils import GGUFParameter, dequantize_gguf_tensor
    n = 0
    for mod in model.modules():
        for name, prm in list(mod.named_parameters(recurse=False)):
            if isinstance(prm, GGUFParameter):
                w = dequantize_gguf_tensor(prm).to(DT)
                setattr(mod, name, torch.nn.Parameter(w, requires_grad=False))
                n += 1
    # the GGUF linears now hold plain tensors: make them behave as nn.Linear
    for mod in model.modules():
        if type(mod).__name__ == "GGUFLinear":
            mod.__class__ = torch.nn.Linear
    print(f"dense: dequantized {n} GGUF parameters once")
t1 = time.perf_counter()
model.to(dev)
sync()
t_to = time.perf_counter() - t1
cfg = model.config
result = {"what": "diffusers FluxTransformer2DModel forward (one denoising step)", "gguf": args.gguf,
          "dense": args.dense, "torch": torch.__version__, "diffusers": diffusers.__version__,
          "device": torch.cuda.get_device_name() if cuda else "cpu", "load_s": round(t_load, 2),
          "to_device_s": round(t_to, 2), "runs": []}
if cuda:
    result["resident_alloc_gib"] = round(torch.cuda.memory_allocated() / 2**30, 3)
print(f"loaded {args.gguf} in {t_load:.1f} s (+{t_to:.1f} s to {dev}); resident "
      f"{result.get('resident_alloc_gib', 0)} GiB", flush=True)

for size in args.sizes.split(","):
    w, h = (int(v) for v in size.lower().split("x"))
    hl, wl = 2 * (h // 16), 2 * (w // 16)  # latent h, w as FluxPipeline: 2 * (size // (vae_scale * 2))
    seq = (hl // 2) * (wl // 2)
    g = torch.Generator("cpu").manual_seed(42)
    hidden = torch.randn(1, seq, cfg.in_channels, generator=g).to(dev, DT)
    enc = torch.randn(1, args.txt_tokens, cfg.joint_attention_dim, generator=g).to(dev, DT)
    pooled = torch.randn(1, cfg.pooled_projection_dim, generator=g).to(dev, DT)
    img_ids = torch.zeros(hl // 2, wl // 2, 3)
    img_ids[..., 1] += torch.arange(hl // 2)[:, None]
    img_ids[..., 2] += torch.arange(wl // 2)[None, :]
    img_ids = img_ids.reshape(-1, 3).to(dev)
    txt_ids = torch.zeros(args.txt_tokens, 3, device=dev)
    t = torch.tensor([1.0], device=dev, dtype=DT)
    guidance = torch.tensor([3.5], device=dev, dtype=torch.float32) if cfg.guidance_embeds else None

    def fwd():
        with torch.inference_mode():
            return model(hidden_states=hidden, encoder_hidden_states=enc, pooled_projections=pooled, timestep=t,
                         img_ids=img_ids, txt_ids=txt_ids, guidance=guidance, return_dict=False)[0]
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    warm = []
    for _ in range(args.warmup):
        s = time.perf_counter(); fwd(); sync(); warm.append((time.perf_counter() - s) * 1e3)
    times = []
    for _ in range(args.iters):
        s = time.perf_counter(); out = fwd(); sync(); times.append((time.perf_counter() - s) * 1e3)
    times_sorted = sorted(times)
    run = {"size": f"{w}x{h}", "image_tokens": seq, "text_tokens": args.txt_tokens,
           "median_ms": round(statistics.median(times), 2),
           "p90_ms": round(times_sorted[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))], 2),
           "warmup_ms": [round(v, 1) for v in warm], "times_ms": [round(v, 2) for v in times],
           "output_finite": bool(torch.isfinite(out).all())}
    if cuda:
        run["peak_alloc_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        run["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 3)
    if cuda and args.count_kernels:
        run["kernel_trace"] = count_kernels(fwd)
        kt = run["kernel_trace"]
        print(f"{run['size']:9s} kernels per forward: {kt['kernels']} (+{kt['memcpy_memset']} memcpy/memset), "
              f"{kt['kernel_ms']} ms of kernel time", flush=True)
    result["runs"].append(run)
    print(f"{run['size']:9s} {seq}+{args.txt_tokens} tokens: median {run['median_ms']} ms, p90 {run['p90_ms']} ms, "
          f"peak alloc {run.get('peak_alloc_gib')} GiB, reserved {run.get('peak_reserved_gib')} GiB", flush=True)
if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
