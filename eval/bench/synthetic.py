"""Synthetic-data validation on real data, every figure measured in this one run:

1. Alpaca (5,000 records) with its 175 seed tasks: share flagged, refusal/disclosure share;
2. AlpacaEval outputs of 20 models (805 each): generators side by side;
3. GPT-3 GSM8K solutions (4 models x 1,319, correctness labels): answer checker agreement, share wrong;
4. self-instruct predictions of 8 models (252 each, `response` mapped to `output`);
5. refusal/disclosure recall on hand-labelled held-out outputs (eval/bench/refusal_labels.json).

    python -m eval.bench.synthetic [--data ../shared/data/synthetic] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from flows.cli import main as assay

HERE = Path(__file__).resolve().parent
GSM_MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def _validate(args: list[str]) -> tuple[dict, float]:
    t = time.process_time()  # CPU seconds: the machine is shared, wall time says more about the neighbours
    code = assay(["validate", *args, "--quiet"])
    if code != 0:
        raise SystemExit(f"assay validate {' '.join(args)} exited {code}")
    out = Path(args[args.index("--out") + 1])
    return json.loads((out / "validation.json").read_text()), time.process_time() - t


def _rate(s: dict, *reasons: str) -> float:
    return sum(s["by_reason"].get(r, 0) for r in reasons) / s["records"]


def alpaca(data: Path, work: Path) -> float:
    s, secs = _validate([str(data / "alpaca" / "alpaca_5000.json"), "--out", str(work / "alpaca"),
                         "--seeds", str(data / "alpaca" / "seed_tasks.jsonl")])
    print(f"\n## Alpaca 5,000 + 175 seeds ({secs:.1f} s)\n")
    print(f"flagged {s['flagged']} ({s['flagged_rate']:.2%}); refusal + self_disclosure "
          f"{_rate(s, 'refusal', 'self_disclosure'):.2%} (goal <= 1 %); by reason {s['by_reason']}")
    print(f"distinct-1/2/3 {s['distinct_1']}/{s['distinct_2']}/{s['distinct_3']}; instruction-opening entropy "
          f"{s['opening_entropy']} bits over {s['distinct_openings']} openings")
    return secs


def alpaca_eval(data: Path, work: Path) -> float:
    s, secs = _validate([str(data / "alpaca_eval_outputs"), "--out", str(work / "alpaca_eval")])
    reasons = ("refusal", "self_disclosure", "truncated", "degenerate", "repeats_instruction", "exact_duplicate", "near_duplicate")
    print(f"\n## AlpacaEval outputs, 20 models ({secs:.1f} s)\n")
    print("| generator | records | flagged | " + " | ".join(reasons) + " | distinct-2 | median words |")
    print("|---|---:|---:|" + "---:|" * len(reasons) + "---:|---:|")
    for g, v in sorted(s["generators"].items(), key=lambda kv: -kv[1]["flagged"] / kv[1]["records"]):
        cells = " | ".join(str(v["by_reason"].get(r, 0)) for r in reasons)
        print(f"| {g} | {v['records']} | {v['flagged'] / v['records']:.1%} | {cells} | {v['distinct_2']} | {v['words_p50']} |")
    return secs


def gsm8k(data: Path, work: Path) -> float:
    src = data / "gsm8k_model_solutions" / "example_model_solutions.jsonl"
    rows = [json.loads(x) for x in src.read_text().splitlines() if x.strip()]
    recs = work / "gsm8k_in" / "solutions.jsonl"
    recs.parent.mkdir(parents=True)
    labels = {}
    with recs.open("w") as f:
        for i, r in enumerate(rows):
            for m in GSM_MODELS:
                rid = f"{i}-{m}"
                labels[rid] = r[m]["is_correct"]
                f.write(json.dumps({"id": rid, "instruction": r["question"], "output": r[m]["solution"], "generator": m}) + "\n")
    out = work / "gsm8k"
    s, secs = _validate([str(recs), "--out", str(out), "--reference", str(src)])
    import duckdb

    with duckdb.connect(str(out / "ledger.duckdb"), read_only=True) as con:
        judged = dict(con.execute("SELECT doc_id, decision = 'kept' FROM decisions WHERE stage = 'answer_check'").fetchall())
    agree = sum(judged[k] == v for k, v in labels.items() if k in judged) / len(judged)
    print(f"\n## GSM8K GPT-3 solutions, 4 x 1,319 ({secs:.1f} s)\n")
    print(f"answer checker agrees with the correctness labels on {agree:.4f} of {len(judged)} solutions (goal >= 0.97)")
    for m in GSM_MODELS:
        v = s["generators"][m]
        wrong = v["by_reason"].get("wrong_answer", 0) + v["by_reason"].get("no_answer", 0)
        print(f"- {m}: {wrong / v['records']:.1%} wrong or without an answer "
              f"(labels: {1 - sum(labels[f'{i}-{m}'] for i in range(len(rows))) / len(rows):.1%} incorrect)")
    return secs


def self_instruct(data: Path, work: Path) -> float:
    s, secs = _validate([str(data / "self_instruct" / "predictions"), "--out", str(work / "self_instruct"),
                         "--field-map", "output=response", "--seeds", str(data / "self_instruct" / "seed_tasks.jsonl")])
    print(f"\n## self-instruct predictions, 8 models ({secs:.1f} s)\n")
    for g, v in sorted(s["generators"].items()):
        print(f"- {g}: {v['records']} records, {v['flagged'] / v['records']:.1%} flagged {v['by_reason']}")
    return secs


def refusal_recall(data: Path) -> None:
    from stages import synthetic_checks as sc

    labels = json.loads((HERE / "refusal_labels.json").read_text())["labels"]
    outputs: dict[str, list] = {}
    tp = fn = fp = 0
    for item in labels:
        recs = outputs.setdefault(item["model"], json.loads((data / "alpaca_eval_outputs" / f"{item['model']}.json").read_text()))
        hit = bool(sc.refusal(recs[item["index"]]["output"]) or sc.disclosure(recs[item["index"]]["output"]))
        if item["refusal_or_disclosure"]:
            tp, fn = tp + hit, fn + (not hit)
        else:
            fp += hit
    neg = len(labels) - tp - fn
    print(f"\n## Refusal and self-disclosure detection, held-out models\n\nrecall {tp / (tp + fn):.3f} on {tp + fn} "
          f"hand-labelled refusals/disclosures (goal >= 0.95); {fp} of {neg} look-alike outputs flagged")


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "synthetic")
    ap.add_argument("--keep", type=Path, help="keep the run folders here (default: a temporary folder)")
    a = ap.parse_args()
    if not a.data.exists():
        sys.exit(f"real data folder {a.data} is absent (--data)")
    work = a.keep or Path(tempfile.mkdtemp(prefix="assay-synthetic-"))
    try:
        wall = time.perf_counter()
        total = alpaca(a.data, work) + alpaca_eval(a.data, work) + gsm8k(a.data, work) + self_instruct(a.data, work)
        refusal_recall(a.data)
        print(f"\nall four real-data runs: {total:.1f} CPU seconds, {time.perf_counter() - wall:.1f} s wall clock "
              "(goal < 300 s on 2 cores); timings above are CPU seconds")
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run()
