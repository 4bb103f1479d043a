"""A GPT-style decoder for proxy-model ablations, kept nanoGPT-small so that what was measured is easy to read.

Pre-LayerNorm blocks, learned positions, tied input/output embeddings, and attention through
`scaled_dot_product_attention` so that CUDA picks a flash kernel and the CPU path runs the same code.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 8192
    block_size: int = 256
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0  # proxy runs see each token about once: dropout only slows them down

    def to_dict(self) -> dict:
        return asdict(self)


# (n_layer, n_head, n_embd); parameter counts are with the default 8192-token vocabulary.
SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (2, 4, 128),  # ~1.5M: trains in seconds on CPU, for tests
    "mini": (4, 4, 256),  # ~5M
    "small": (6, 6, 384),  # ~14M; the "about 20M" ablation size with a 32k vocabulary
    "medium": (8, 8, 640),  # ~45M
    "base": (12, 12, 768),  # ~91M
    "large": (16, 14, 896),  # ~162M
}


def config_for(size: str, vocab_size: int, block_size: int = 256) -> GPTConfig:
    """A named size, or `WIDTHxDEPTH` (e.g. `384x6`) with 64-wide heads."""
    if size in SIZES:
        n_layer, n_head, n_embd = SIZES[size]
    elif m := re.fullmatch(r"(\d+)x(\d+)", size):
        n_embd, n_layer = int(m.group(1)), int(m.group(2))
        n_head = max(1, n_embd // 64)
        if n_embd % n_head:
            raise ValueError(f"width {n_embd} is not a multiple of the head count {n_head}")
    else:
        raise ValueError(f"unknown model size {size!r}: use one of {sorted(SIZES)} or WIDTHxDEPTH (e.g. 384x6)")
    return GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tying saves a vocab×width matrix, most of a tiny model
        self.apply(self._init)
        # GPT-2's residual scaling keeps the residual stream's variance flat as depth grows
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def n_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.wte.weight.numel() - self.wpe.weight.numel() if non_embedding else n

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward), PaLM appendix B: 6N plus attention's 12·L·d·T."""
        T = seq_len or self.cfg.block_size
        N = self.n_params() - self.wpe.weight.numel()
        return 6 * N + 12 * self.cfg.n_layer * self.cfg.n_embd * T

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        T = idx.size(1)
        if T > self.cfg.block_size:
            raise ValueError(f"sequence of {T} tokens exceeds the block size {self.cfg.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def configure_optimizer(self, lr: float, weight_decay: float, device_type: str) -> torch.optim.AdamW:
        # no decay on gains, biases or embeddings' 1-D parts: decaying them only hurts small models
        decay = [p for p in self.parameters() if p.requires_grad and p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.requires_grad and p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8, fused=device_type == "cuda")
