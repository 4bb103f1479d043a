"""Score a trained proxy model the same way for every recipe: held-out bits per byte per source, and
zero-shot likelihood scoring of multiple-choice benchmarks, item by item so the statistics can resample.

Each scored unit becomes an item row `(eval_set, item_id, leaked, num, den, correct)`:
- held-out documents: num = bits to encode the document, den = its UTF-8 bytes (bits per byte = Σnum/Σden);
- benchmark items: num = log2-probability per byte of the correct continuation (the continuous metric:
  higher is better, and it ranks data far more reliably than accuracy at small scale), den = 1;
  correct = 1 when the choice with the best per-byte log-probability is the right one (LAMBADA: when greedy
  decoding reproduces the last word exactly).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tokenizers import Tokenizer

from eval.model import GPT
from eval.sources import MCItem
from eval.tokenizer import eos_id

LN2 = math.log(2)


@dataclass(frozen=True)
class ItemScore:
    eval_set: str
    item_id: str
    leaked: bool
    num: float
    den: float
    correct: float | None


def _autocast(device: torch.device):
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def _token_logprobs(model: GPT, seqs: list[list[int]], device: torch.device, batch_size: int):
    """Per sequence: log-probs (nats) of tokens 1..n given their prefix, and whether each was the argmax."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths share a batch: less padding
    out: list = [None] * len(seqs)
    for b in range(0, len(order), batch_size):
        idx = order[b:b + batch_size]
        width = max(len(seqs[i]) for i in idx) - 1
        x = torch.zeros((len(idx), width), dtype=torch.long)
        y = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            s = torch.tensor(seqs[i])
            x[row, : len(s) - 1] = s[:-1]
            y[row, : len(s) - 1] = s[1:]
        x, y = x.to(device), y.to(device)
        with _autocast(device):
            logits, _ = model(x)
        logp = torch.log_softmax(logits.float(), dim=-1)
        tok_lp = logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).cpu().numpy()
        greedy = (logp.argmax(-1) == y).cpu().numpy()
        for row, i in enumerate(idx):
            n = len(seqs[i]) - 1
            out[i] = (tok_lp[row, :n], greedy[row, :n])
    return out


def heldout_bpb(model: GPT, tok: Tokenizer, name: str, docs: Sequence[str], device: torch.device,
                max_tokens: int, batch_size: int = 16) -> list[ItemScore]:
    """Each document starts from an EOS and is cut into block-size windows scored from a fresh context;
    windows never cross documents, so a document's bits do not depend on its neighbours."""
    T = model.cfg.block_size
    eos = eos_id(tok)
    seqs, owner, used = [], [], 0
    encodings = tok.encode_batch(list(docs), add_special_tokens=False)
    kept = []
    for d, enc in enumerate(encodings):
        ids = [eos, *enc.ids]
        if used + len(ids) > max_tokens and kept:
            break  # a cap on tokens, taken in document order, keeps every run's sample identical
        kept.append(d)
        used += len(ids)
        for start in range(0, len(ids) - 1, T):
            seqs.append(ids[start:start + T + 1])
            owner.append(d)
    bits = np.zeros(len(docs))
    for (lp, _), d in zip(_token_logprobs(model, seqs, device, batch_size), owner):
        bits[d] -= lp.sum() / LN2
    return [ItemScore(name, f"doc-{d}", False, float(bits[d]), float(len(docs[d].encode("utf-8"))), None)
            for d in kept]


def score_benchmark(model: GPT, tok: Tokenizer, name: str, items: Sequence[MCItem], leaked: set[str],
                    device: torch.device, batch_size: int = 32) -> list[ItemScore]:
    T = model.cfg.block_size
    eos = eos_id(tok)
    seqs, spans = [], []
    for item in items:
        for ctx, cont in item.choices:
            ctx_ids = [eos, *tok.encode(ctx, add_special_tokens=False).ids]
            cont_ids = tok.encode(cont, add_special_tokens=False).ids[:T]
            seq = (ctx_ids + cont_ids)[-(T + 1):]  # keep the continuation whole: cut the context's left side
            seqs.append(seq)
            spans.append(len(cont_ids))
    scored = _token_logprobs(model, seqs, device, batch_size)
    out, k = [], 0
    for item in items:
        per_byte, greedy_ok = [], []
        for (ctx, cont), n in zip(item.choices, spans[k:k + len(item.choices)]):
            lp, greedy = scored[k]
            k += 1
            per_byte.append(lp[-n:].sum() / LN2 / max(1, len(cont.encode("utf-8"))))
            greedy_ok.append(bool(greedy[-n:].all()))
        if len(item.choices) == 1:
            correct = float(greedy_ok[0])
        else:
            correct = float(int(np.argmax(per_byte)) == item.label)
        out.append(ItemScore(name, item.item_id, item.item_id in leaked, float(per_byte[item.label]), 1.0, correct))
    return out
