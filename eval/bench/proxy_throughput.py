"""Training throughput and model FLOPs utilization of the proxy model, per size.

    python -m eval.bench.proxy_throughput [--sizes tiny,mini,small,medium,base,large] [--device auto]
        [--micro-batch 32] [--block-size 1024] [--steps 20] [--peak-tflops X]

Times the same step `eval.train` runs (bf16 autocast, fused AdamW and torch.compile on CUDA; fp32 on CPU)
after warm-up steps, so compilation is not counted. MFU = 6N + attention FLOPs per token × tokens/s over the
accelerator's dense bf16 peak (PaLM's definition); on CPU it is printed only when --peak-tflops is given.
"""
from __future__ import annotations

import argparse
import time

import torch

from eval.model import GPT, config_for
from eval.train import lr_for, resolve_device, setup_cpu

# dense bf16 peaks (no sparsity), TFLOP/s
PEAKS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0}


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAKS.items() if k in name), None)


def bench(size: str, device: torch.device, micro_batch: int, block_size: int, steps: int, warmup: int,
          vocab_size: int, compile_model: bool) -> dict:
    torch.manual_seed(0)
    cuda = device.type == "cuda"
    model = GPT(config_for(size, vocab_size, block_size)).to(device)
    opt = model.configure_optimizer(lr_for(model), 0.1, device.type)
    fwd = torch.compile(model) if compile_model else model
    x = torch.randint(0, vocab_size, (micro_batch, block_size + 1), device=device)

    def step() -> None:
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
            _, loss = fwd(x[:, :-1], x[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tok_s = steps * micro_batch * block_size / seconds
    return {"size": size, "params": model.n_params(), "tokens_per_s": tok_s,
            "tflops": model.flops_per_token(block_size) * tok_s / 1e12}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="tiny,mini,small,medium,base,large")
    p.add_argument("--device", default="auto")
    p.add_argument("--micro-batch", type=int, default=0, help="0: 32 on CUDA, 8 on CPU")
    p.add_argument("--block-size", type=int, default=0, help="0: 1024 on CUDA, 256 on CPU")
    p.add_argument("--steps", type=int, default=0, help="timed steps; 0: 30 on CUDA, 5 on CPU")
    p.add_argument("--vocab-size", type=int, default=32768)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--peak-tflops", type=float, default=None)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        setup_cpu()
    peak = args.peak_tflops or peak_tflops(device)
    name = torch.cuda.get_device_name(device) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; peak {peak or 'unknown'} TFLOP/s")
    print(f"{'size':>8} {'params':>10} {'tokens/s':>12} {'TFLOP/s':>9} {'MFU':>6}")
    for size in args.sizes.split(","):
        r = bench(size, device, args.micro_batch or (32 if cuda else 8), args.block_size or (1024 if cuda else 256),
                  args.steps or (30 if cuda else 5), 5 if cuda else 1, args.vocab_size, cuda and not args.no_compile)
        mfu = f"{100 * r['tflops'] / peak:5.1f}%" if peak else "  n/a"
        print(f"{size:>8} {r['params'] / 1e6:9.1f}M {r['tokens_per_s']:12,.0f} {r['tflops']:9.3f} {mfu:>6}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
