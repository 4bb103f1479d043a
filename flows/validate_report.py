"""The dataset report of `assay validate` (RUN_DIR/validation.md, validation.html, validation.json)
and its policy gates.

Everything is read back from the run: final reasons and generators from the ledger (the `generators`
view the synthetic stage declares), response texts from the run's ingest step (the ledger holds no
text). Examples of flagged records are cut to 160 characters with e-mail addresses, links, phone and
other long digit runs and @handles masked, so the report can be shared where the data cannot.
"""
from __future__ import annotations

import html
import json
import math
import re
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from flows.report import connect
from stages.options import ConfigError

# Beyond the PII the one masker finds (stages/pii_engine), a report also hides links and @handles:
# examples of generated data are read by people who need the failure, not where it pointed.
_MASKS = ((re.compile(r"https?://\S+|www\.\S+"), "<URL>"), (re.compile(r"(?<!\w)@\w{2,}"), "<HANDLE>"))
EXAMPLES = 3
_GATE = re.compile(r"(max)_([a-z][a-z0-9_]*)_rate|(min)_(distinct_[123]|opening_entropy)")


def mask(text: str, limit: int = 160) -> str:
    from stages.pii_engine.masker import mask_text

    text = mask_text(text)  # before the cut: half an address must never survive it
    for rx, repl in _MASKS:
        text = rx.sub(repl, text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def distinct(texts: pl.Series, groups: pl.Series | None = None) -> dict[Any, tuple[float, float, float]]:
    """Distinct-1/2/3 (Li et al. 2016): distinct word n-grams / all word n-grams, over all texts of
    each group (one group when `groups` is None). Computed in polars: n-grams never become tuples."""
    frame = pl.DataFrame({"g": groups if groups is not None else pl.repeat("", texts.len(), eager=True),
                          "t": texts.fill_null("")}).with_row_index("d")
    words = (frame.select("g", "d", w=pl.col("t").str.to_lowercase().str.replace_all(r"\s+", " ").str.split(" "))
             .explode("w").filter(pl.col("w").is_not_null() & (pl.col("w") != "")))
    grams = words.with_columns(w2=pl.concat_str("w", pl.col("w").shift(-1).over("d"), separator=" "),
                               w3=pl.concat_str("w", pl.col("w").shift(-1).over("d"), pl.col("w").shift(-2).over("d"),
                                                separator=" "))
    agg = grams.group_by("g").agg(*[e for c in ("w", "w2", "w3") for e in (
        pl.col(c).drop_nulls().n_unique().alias(f"u_{c}"), pl.col(c).drop_nulls().len().alias(f"n_{c}"))])
    out = {}
    for r in agg.iter_rows(named=True):
        out[r["g"]] = tuple(round(r[f"u_{c}"] / r[f"n_{c}"], 4) if r[f"n_{c}"] else 0.0 for c in ("w", "w2", "w3"))
    return out


def entropy(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return round(-sum(c / total * math.log2(c / total) for c in counts.values()), 3) if total else 0.0


def opening(text: str, words: int) -> str:
    return " ".join(re.findall(r"[\w']+", text.lower())[:words])


def _texts(run_dir: Path) -> pl.DataFrame:
    """doc_id, instruction side and response of every ingested record (from the ingest step)."""
    from stages.synthetic import parts

    manifest = json.loads((run_dir / "manifest.json").read_text())
    step = run_dir / manifest["steps"][0]["dir"]
    shards = json.loads((step / "_done.json").read_text())["shards"]
    rows = []
    cols = ["doc_id", "kind", "instruction", "input", "output", "messages", "prompt", "completion"]
    for s in shards:
        for r in pl.read_parquet(step / s, columns=cols, glob=False).iter_rows(named=True):
            _, _, response, prompt, inst = parts(r["kind"], r)
            rows.append((r["doc_id"], inst or prompt, response))
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "prompt": pl.String, "response": pl.String}, orient="row")


def summarize(run_dir: Path) -> dict[str, Any]:
    con = connect(run_dir)
    try:
        has_gen = bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'generators'").fetchall()[0][0])
        gen_sql = "g.generator" if has_gen else "NULL"
        join = "LEFT JOIN generators g USING (doc_id)" if has_gen else ""
        docs = con.sql(f"SELECT d.doc_id, coalesce({gen_sql}, '(unknown)') AS generator, d.final, d.final_reason, "
                           f"d.input_file, d.input_line FROM documents d {join} ORDER BY d.input_file, d.input_line").to_arrow_table()
        evidence = con.sql("SELECT doc_id, stage, evidence::VARCHAR AS evidence, scores::VARCHAR AS scores FROM decisions "
                               "WHERE decision = 'removed' OR stage = 'synthetic'").to_arrow_table()
        # the ingest detail (which field, what is wrong) of quarantined records; never their excerpt
        quarantine = {(f, ln): d for f, ln, d in con.execute(
            "SELECT input_file, input_line, detail FROM quarantine WHERE input_line IS NOT NULL").fetchall()}
    finally:
        con.close()
    docs, evidence = pl.from_arrow(docs), pl.from_arrow(evidence)
    # A quarantined record has no decision, so no generator of its own; when every document of its
    # file has one generator (a file per model, or --generator), it is that one.
    single = (docs.filter(pl.col("final") != "quarantined").group_by("input_file")
              .agg(pl.col("generator").unique()).filter(pl.col("generator").list.len() == 1)
              .select("input_file", file_generator=pl.col("generator").list.first()))
    docs = (docs.join(single, on="input_file", how="left", maintain_order="left")
            .with_columns(generator=pl.when(pl.col("final") == "quarantined").then(pl.coalesce("file_generator", "generator"))
                          .otherwise("generator")).drop("file_generator"))
    texts = _texts(run_dir)
    docs = docs.join(texts, on="doc_id", how="left")
    lengths = (evidence.filter(pl.col("stage") == "synthetic")
               .select("doc_id", words=pl.col("scores").str.json_path_match("$.synthetic_response_words").cast(pl.Int64)))
    docs = docs.join(lengths, on="doc_id", how="left")
    flagged = docs.filter(pl.col("final") != "kept")
    n = docs.height
    by_reason = dict(Counter(flagged["final_reason"].to_list()).most_common())
    kept = docs.filter(pl.col("final") == "kept")
    kept_resp = kept["response"].fill_null("").to_list()
    d_kept = distinct(kept["response"]).get("", (0.0, 0.0, 0.0))
    d_gen = distinct(docs["response"], docs["generator"])
    openings = Counter(opening(t, 2) for t in kept["prompt"].fill_null("").to_list() if t)
    generators = {}
    for (gen,), part in docs.group_by(["generator"], maintain_order=True):
        w = part["words"].drop_nulls()
        d1, d2, d3 = d_gen.get(gen, (0.0, 0.0, 0.0))
        generators[gen] = {
            "records": part.height, "flagged": int((part["final"] != "kept").sum()),
            "by_reason": dict(Counter(part.filter(pl.col("final") != "kept")["final_reason"].to_list()).most_common()),
            "distinct_1": d1, "distinct_2": d2, "distinct_3": d3,
            "words_p10": _q(w, 0.1), "words_p50": _q(w, 0.5), "words_p90": _q(w, 0.9), "words_max": int(w.max() or 0),
        }
    examples: dict[str, list[dict[str, Any]]] = {}
    ev = {(r["doc_id"], r["stage"]): r["evidence"] for r in evidence.iter_rows(named=True)}
    removed_stage = dict(evidence.filter(pl.col("stage") != "synthetic").select("doc_id", "stage").iter_rows())
    for r in flagged.iter_rows(named=True):
        items = examples.setdefault(r["final_reason"], [])
        if len(items) < EXAMPLES:
            stage = removed_stage.get(r["doc_id"], "synthetic")
            detail = quarantine.get((r["input_file"], r["input_line"])) if r["final"] == "quarantined" else None
            items.append({"where": f"{r['input_file']}:{r['input_line']}", "generator": r["generator"],
                          "evidence": {"ingest": mask(detail)} if detail else json.loads(ev.get((r["doc_id"], stage)) or "{}"),
                          "instruction": mask(r["prompt"] or ""), "response": mask(r["response"] or "")})
    return {
        "records": n, "kept": kept.height, "flagged": flagged.height, "flagged_rate": flagged.height / n if n else 0.0,
        "by_reason": by_reason, "rates": {k: v / n for k, v in by_reason.items()},
        "distinct_1": d_kept[0], "distinct_2": d_kept[1], "distinct_3": d_kept[2],
        "opening_entropy": entropy(openings), "distinct_openings": len(openings),
        "top_instruction_openings": openings.most_common(10),
        "top_response_openings": Counter(opening(t, 4) for t in kept_resp if t).most_common(10),
        "generators": generators, "examples": examples,
    }


def _q(s: pl.Series, q: float) -> int:
    return int(s.quantile(q, "nearest") or 0) if s.len() else 0


def _md_table(head: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def _sections(s: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    reasons = list(s["by_reason"])
    gens = s["generators"]
    return [
        ("Counts per reason", ["reason", "records", "rate"],
         [[k, v, f"{s['rates'][k]:.2%}"] for k, v in s["by_reason"].items()]),
        ("Per generator", ["generator", "records", "flagged", *reasons, "distinct-1", "distinct-2", "distinct-3"],
         [[g, v["records"], f"{v['flagged'] / v['records']:.1%}", *[v["by_reason"].get(r, 0) for r in reasons],
           v["distinct_1"], v["distinct_2"], v["distinct_3"]] for g, v in sorted(gens.items())]),
        ("Response length in words, per generator", ["generator", "p10", "median", "p90", "max"],
         [[g, v["words_p10"], v["words_p50"], v["words_p90"], v["words_max"]] for g, v in sorted(gens.items())]),
        ("Diversity of the kept records", ["measure", "value"],
         [["distinct-1 / 2 / 3 of responses", f"{s['distinct_1']} / {s['distinct_2']} / {s['distinct_3']}"],
          ["instruction openings (first two words): entropy in bits", s["opening_entropy"]],
          ["distinct instruction openings", s["distinct_openings"]]]),
        ("Top instruction openings", ["opening", "records"], [list(x) for x in s["top_instruction_openings"]]),
        ("Top response openings", ["opening", "records"], [list(x) for x in s["top_response_openings"]]),
        ("Examples of each reason (masked, cut to 160 characters)", ["reason", "where", "generator", "evidence", "instruction", "response"],
         [[k, e["where"], e["generator"], json.dumps(e["evidence"], sort_keys=True), e["instruction"], e["response"]]
          for k, items in s["examples"].items() for e in items]),
    ]


def write_report(run_dir: Path) -> dict[str, Any]:
    s = summarize(run_dir)
    head = (f"{s['records']} records, {s['kept']} kept, {s['flagged']} flagged ({s['flagged_rate']:.1%}); "
            "a record counts under the first reason that removed it")
    md = [f"# Validation report: {run_dir.name}", "", head, ""]
    page = [f"<!doctype html><meta charset='utf-8'><title>Validation report</title><h1>Validation report: "
            f"{html.escape(run_dir.name)}</h1><p>{html.escape(head)}</p>"]
    for title, cols, rows in _sections(s):
        md += [f"## {title}", "", _md_table(cols, rows), ""]
        page.append(f"<h2>{html.escape(title)}</h2><table border='1' cellspacing='0' cellpadding='3'><tr>"
                    + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"
                    + "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
                    + "</table>")
    (run_dir / "validation.md").write_text("\n".join(md))
    (run_dir / "validation.html").write_text("\n".join(page) + "\n")
    (run_dir / "validation.json").write_text(json.dumps(s, indent=1, sort_keys=True))
    return s


def known_reasons() -> set[str]:
    """Reasons a validation run can give: its stages' and ingest's quarantine reasons, and 'flagged'."""
    from flows.cli.validate import RECIPE
    from flows.ingest.quarantine import QUARANTINE_REASONS
    from stages import catalog

    found = catalog.all_stages()
    return {"flagged", *QUARANTINE_REASONS, *(r for n in RECIPE if n in found for r in found[n].reasons)}


def load_policy(path: Path) -> dict[str, Any]:
    """Gates from a TOML file (top level or a [gates] table): max_<reason>_rate (any reason, or
    flagged), min_distinct_1/2/3, min_opening_entropy, per_generator = true (rate gates per generator too)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--policy {path}: cannot read it as TOML: {exc}") from None
    data = data.get("gates", data)
    for key, value in data.items():
        if key == "per_generator":
            if not isinstance(value, bool):
                raise ConfigError(f"--policy {path}: per_generator accepts true or false; got {value!r}")
        elif not _GATE.fullmatch(key):
            raise ConfigError(f"--policy {path}: unknown gate {key!r}; gates are max_<reason>_rate, max_flagged_rate, "
                              "min_distinct_1, min_distinct_2, min_distinct_3, min_opening_entropy, per_generator")
        elif (m := _GATE.fullmatch(key)) and m.group(1) and m.group(2) not in known_reasons():
            # a misspelt reason would be a gate that never fails
            raise ConfigError(f"--policy {path}: gate {key!r} names no reason; reasons: {', '.join(sorted(known_reasons()))}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"--policy {path}: gate {key!r} accepts a number >= 0; got {value!r}")
    return data


def check_policy(policy: dict[str, Any], s: dict[str, Any]) -> list[str]:
    """One line per failed gate, naming it, the measured value and the limit."""
    failed = []
    scopes = [("", s["records"], s["by_reason"], s["flagged"])]
    if policy.get("per_generator"):
        scopes += [(f" (generator {g})", v["records"], v["by_reason"], v["flagged"]) for g, v in sorted(s["generators"].items())]
    for key, limit in policy.items():
        m = _GATE.fullmatch(key)
        if m is None:
            continue
        if m.group(1):
            reason = m.group(2)
            for where, n, counts, flagged in scopes:
                rate = (flagged if reason == "flagged" else counts.get(reason, 0)) / n if n else 0.0
                if rate > limit:
                    failed.append(f"{key}: {reason} rate {rate:.4f} > {limit}{where}")
        elif s[m.group(4)] < limit:
            failed.append(f"{key}: {m.group(4)} {s[m.group(4)]} < {limit}")
    return failed
