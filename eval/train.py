"""Train one proxy model on a fixed token budget. CUDA gets bf16 autocast, fused AdamW, TF32 and
torch.compile; the CPU path runs the same loop in fp32 so tests exercise every line but the kernels."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from eval.data import EpochSampler, TokenFile
from eval.model import GPT, GPTConfig


@dataclass(frozen=True)
class TrainConfig:
    tokens: int  # the budget: the same for every recipe, whatever the size of its corpus
    seed: int = 0
    micro_batch: int = 16  # sequences per forward pass
    batch_tokens: int = 0  # tokens per optimizer step; 0 means one micro-batch (no accumulation)
    lr: float = 0.0  # 0 picks lr_for(model)
    min_lr_ratio: float = 0.1
    warmup_frac: float = 0.05
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    device: str = "auto"
    compile: str = "auto"  # "auto": on CUDA only, where it pays for its warm-up
    log_points: int = 50  # loss-curve points kept per run

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    model: GPT
    steps: int
    tokens_seen: int
    epochs: float
    seconds: float
    tokens_per_s: float
    final_loss: float
    curve: list[dict] = field(default_factory=list)  # {step, tokens, loss, lr}


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but torch sees no CUDA device")
    return torch.device(device)


def setup_cpu(threads: int | None = None) -> None:
    # denormals made CPU steps randomly 5-7x slower on our machines (ECOSYSTEM-NOTES)
    torch.set_flush_denormal(True)
    if threads:
        torch.set_num_threads(threads)


def lr_for(model: GPT) -> float:
    """Peak learning rate falling with width, roughly the GPT-3 table: 1e-3 at d=768, higher for tiny models."""
    return min(3e-3, 1e-3 * (768 / model.cfg.n_embd) ** 0.5)


def lr_at(step: int, total: int, peak: float, warmup: int, min_ratio: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def train(model_cfg: GPTConfig, cfg: TrainConfig, corpus: TokenFile) -> TrainResult:
    device = resolve_device(cfg.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        setup_cpu()
    seed_everything(cfg.seed)  # the seed alone fixes the initialization: recipes are paired by seed
    model = GPT(model_cfg).to(device)
    T = model_cfg.block_size
    seq_tokens = cfg.micro_batch * T
    accum = max(1, cfg.batch_tokens // seq_tokens) if cfg.batch_tokens else 1
    steps = max(1, cfg.tokens // (seq_tokens * accum))
    warmup = max(1, int(steps * cfg.warmup_frac))
    peak = cfg.lr or lr_for(model)
    opt = model.configure_optimizer(peak, cfg.weight_decay, device.type)
    use_compile = cfg.compile == "on" or (cfg.compile == "auto" and cuda)
    fwd = torch.compile(model) if use_compile else model
    # the data order has its own generator so that it does not depend on how many random numbers init used
    sampler = EpochSampler(corpus.array(), T, seed=cfg.seed + 1_000_003)
    log_every = max(1, steps // cfg.log_points)
    curve: list[dict] = []
    loss_acc = torch.zeros((), device=device)
    model.train()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for step in range(steps):
        lr = lr_at(step, steps, peak, warmup, cfg.min_lr_ratio)
        for group in opt.param_groups:
            group["lr"] = lr
        for _ in range(accum):
            batch = torch.from_numpy(sampler.next_batch(cfg.micro_batch))
            if cuda:
                batch = batch.pin_memory().to(device, non_blocking=True)
            x, y = batch[:, :-1], batch[:, 1:]
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                _, loss = fwd(x, y)
            (loss / accum).backward()
            loss_acc += loss.detach() / accum
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % log_every == 0 or step == steps - 1:
            # .item() synchronizes, so the curve is read only every log_every steps
            n = log_every if (step + 1) % log_every == 0 else (step + 1) % log_every
            curve.append({"step": step + 1, "tokens": (step + 1) * seq_tokens * accum,
                          "loss": loss_acc.item() / n, "lr": lr})
            loss_acc.zero_()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens_seen = steps * seq_tokens * accum
    model.eval()
    return TrainResult(model=model, steps=steps, tokens_seen=tokens_seen,
                       epochs=tokens_seen / max(1, corpus.n_tokens), seconds=seconds,
                       tokens_per_s=tokens_seen / seconds, final_loss=curve[-1]["loss"], curve=curve)
