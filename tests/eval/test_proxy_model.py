"""The proxy model, tokenizer, token files and evaluation: small checks that run in seconds on CPU."""
import math
import random

import numpy as np
import pytest
import torch

from eval.data import EpochSampler, open_token_file, tokenize_to_file
from eval.evaluate import heldout_bpb, score_benchmark
from eval.model import GPT, GPTConfig, config_for
from eval.sources import MCItem
from eval.tokenizer import eos_id, load_tokenizer, train_tokenizer
from eval.train import TrainConfig, lr_at, train

torch.set_num_threads(2)
WORDS = "the a river town market old new green stone bridge water light road house field song".split()


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "." for _ in range(n)]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return train_tokenizer(sentences(300) + ["héllo wörld ✓ 日本"], 300, tmp_path_factory.mktemp("tok") / "t.json")


def test_named_sizes_span_one_to_150m_parameters():
    n = {s: GPT(config_for(s, 8192)).n_params() for s in ("tiny", "large")}
    assert 0.8e6 < n["tiny"] < 2e6
    assert 140e6 < n["large"] < 170e6
    assert config_for("384x6", 100).n_head == 6 and config_for("384x6", 100).n_layer == 6
    with pytest.raises(ValueError, match="unknown model size"):
        config_for("huge", 100)
    # the names `assay ablate --size` offers, from smallest to largest
    shapes = [config_for(s, 8192) for s in ("tiny", "mini", "small", "medium", "base", "large")]
    body = [c.n_layer * c.n_embd**2 for c in shapes]  # parameters outside the embeddings, up to a constant
    assert body == sorted(set(body))


def test_attention_is_causal():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    x = torch.randint(0, 50, (1, 16))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 50
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(y)
    assert torch.allclose(a[0, :10], b[0, :10], atol=1e-5)
    assert not torch.allclose(a[0, 10:], b[0, 10:])


def test_tokenizer_round_trips_any_bytes_and_is_saved(tok, tmp_path):
    text = "héllo wörld ✓ 日本 \x00 tab\t"
    assert tok.decode(tok.encode(text).ids) == text
    path = tmp_path / "tok.json"
    train_tokenizer(sentences(50), 280, path)
    assert eos_id(load_tokenizer(path)) == 0


def test_token_file_and_seeded_epoch_order(tok, tmp_path):
    info = tokenize_to_file(sentences(40), tok, tmp_path / "c.bin")
    again = open_token_file(tmp_path / "c.bin")
    assert again == info and info.dtype == "uint16" and info.n_docs == 40
    arr = info.array()
    assert arr[0] == eos_id(tok) and arr.size == info.n_tokens
    a = EpochSampler(arr, 16, seed=3).next_batch(50)
    b = EpochSampler(arr, 16, seed=3).next_batch(50)
    c = EpochSampler(arr, 16, seed=4).next_batch(50)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    s = EpochSampler(arr, 16, seed=0)
    first_epoch = s.next_batch(s.n_windows)
    assert sorted(first_epoch[:, 0].tolist()) == sorted(arr[np.arange(s.n_windows) * 16].tolist())
    s.next_batch(s.n_windows // 2)
    assert s.epochs_seen() == pytest.approx(1.5, abs=1 / s.n_windows)


def test_cosine_schedule_warms_up_and_decays():
    lrs = [lr_at(s, 100, 1.0, 10, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1, abs=0.01) and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_training_learns_and_records_epochs(tok, tmp_path):
    corpus = tokenize_to_file(sentences(30), tok, tmp_path / "c.bin")
    cfg = GPTConfig(vocab_size=tok.get_vocab_size(), block_size=32, n_layer=1, n_head=2, n_embd=32)
    res = train(cfg, TrainConfig(tokens=12_000, micro_batch=8, batch_tokens=512, device="cpu", lr=3e-3), corpus)
    assert res.curve[-1]["loss"] < res.curve[0]["loss"] - 0.5
    assert res.tokens_seen == 12_000 // 512 * 512
    assert res.epochs == pytest.approx(res.tokens_seen / corpus.n_tokens)
    again = train(cfg, TrainConfig(tokens=2048, micro_batch=8, device="cpu", seed=1), corpus)
    twice = train(cfg, TrainConfig(tokens=2048, micro_batch=8, device="cpu", seed=1), corpus)
    assert again.final_loss == twice.final_loss  # a seed fixes initialization and data order


def test_bits_per_byte_of_an_untrained_model_is_near_uniform(tok):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.get_vocab_size(), block_size=32, n_layer=1, n_head=2, n_embd=32)).eval()
    docs = sentences(5, seed=9)
    items = heldout_bpb(model, tok, "toy", docs, torch.device("cpu"), max_tokens=10_000, batch_size=4)
    n_tokens = sum(len(tok.encode(d).ids) for d in docs)
    n_bytes = sum(len(d.encode()) for d in docs)
    bpb = sum(i.num for i in items) / sum(i.den for i in items)
    assert bpb == pytest.approx(math.log2(tok.get_vocab_size()) * n_tokens / n_bytes, rel=0.05)
    assert [i.den for i in items] == [len(d.encode()) for d in docs]


def test_benchmark_scoring_prefers_what_the_model_learned(tok, tmp_path):
    corpus = tokenize_to_file(["The river runs to the old town."] * 50, tok, tmp_path / "c.bin")
    cfg = GPTConfig(vocab_size=tok.get_vocab_size(), block_size=32, n_layer=1, n_head=2, n_embd=32)
    model = train(cfg, TrainConfig(tokens=20_000, micro_batch=8, device="cpu", lr=5e-3), corpus).model
    items = [MCItem("q1", (("The river runs to the", " old town."), ("The river runs to the", " green song.")), 0),
             MCItem("q2", (("The river runs to the", " green song."), ("The river runs to the", " old town.")), 1),
             MCItem("l1", (("The river runs to the old", " town."),), 0)]
    scores = score_benchmark(model, tok, "toy", items, {"q2"}, torch.device("cpu"))
    assert [s.correct for s in scores] == [1.0, 1.0, 1.0]
    assert [s.leaked for s in scores] == [False, True, False]
    assert scores[0].num == pytest.approx(scores[1].num) and scores[0].num < 0
