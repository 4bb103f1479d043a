"""The release gate: a policy (TOML) of thresholds, evaluated on a finished run's ledger.

Every key has a `warn_` twin: a broken `max_*`/`min_*` fails the check (exit 1), a broken
`warn_max_*` only warns (exit 2). A number applies to the whole run; a table names parts (reasons,
benchmarks, PII entity types, percentiles), with `overall` for the whole run. Gates read the ledger's
generic `decisions` table, so a stage that records its findings the documented way is gated without
code here: contamination is any decision with reason `contamination` (evidence `benchmark`), PII is
the decisions of a stage named `pii` or `*_pii` (entity types in evidence `entities` or as scores).
"""
from __future__ import annotations

import json
import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = 3
CONTAMINATION = "contamination"
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?)")
_SCORE_KEY = re.compile(r"[A-Za-z0-9_]+")


class PolicyError(Exception):
    """The policy does not parse or names something that does not exist (exit 3)."""


class GateError(Exception):
    """A gate cannot be evaluated on this run (exit 3): e.g. it needs a previous release."""


@dataclass(frozen=True)
class Gate:
    key: str  # policy key without warn_, e.g. max_removed_rate
    part: str  # overall, a reason, a benchmark, an entity type, a percentile, or '' for scalar keys
    level: str  # fail | warn
    threshold: Any


@dataclass
class Result:
    name: str
    level: str
    value: Any
    threshold: Any
    status: str  # pass | fail | warn
    examples: list[str] = field(default_factory=list)
    note: str = ""


# key -> (shape, direction): shape 'number', 'table' (number or {part: number}), 'percentiles', 'names'
KEYS: dict[str, tuple[str, str]] = {
    "min_documents": ("number", "min"),
    "max_quarantine_rate": ("number", "max"),
    "max_removed_rate": ("table", "max"),
    "max_contaminated_documents": ("table", "max"),
    "max_pii_documents": ("table", "max"),
    "min_quality_score": ("percentiles", "min"),
    "required_stages": ("names", "min"),
    "max_shrink_vs_previous": ("number", "max"),
    "max_new_near_duplicates_of_previous": ("number", "max"),
}
NEEDS_PREVIOUS = {"max_shrink_vs_previous"}


def _number(where: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or v < 0:
        raise PolicyError(f"{where} accepts a number >= 0; got {v!r}")
    return v


def parse_policy(text: str, where: str = "policy") -> list[Gate]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where} is not valid TOML: {exc}") from None
    gates: list[Gate] = []
    for full, value in data.items():
        level, key = ("warn", full[5:]) if full.startswith("warn_") else ("fail", full)
        if key not in KEYS:
            raise PolicyError(f"unknown key {full!r} in {where}; known: {', '.join(KEYS)} (and warn_ twins of each)")
        shape, _ = KEYS[key]
        at = f"{where}: {full}"
        if shape == "number":
            gates.append(Gate(key, "", level, _number(at, value)))
        elif shape == "table":
            items = {"overall": value} if not isinstance(value, dict) else value
            if not items:
                raise PolicyError(f"{at} accepts a number or a table of numbers; got an empty table")
            gates += [Gate(key, str(p), level, _number(f"{at}.{p}", v)) for p, v in items.items()]
        elif shape == "names":
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise PolicyError(f"{at} accepts a list of stage names; got {value!r}")
            gates += [Gate(key, s, level, "ran") for s in value]
        else:
            gates += _percentiles(at, key, level, value)
    return gates


def _percentiles(at: str, key: str, level: str, value: Any) -> list[Gate]:
    """{score = "stage.score", p10 = 0.2, p50 = 0.5}: percentiles of one score over released documents."""
    if not isinstance(value, dict) or not isinstance(value.get("score"), str):
        raise PolicyError(f"{at} accepts a table with score = \"STAGE.SCORE\" and percentiles such as p10 = 0.3; got {value!r}")
    score = value["score"]
    stage, _, name = score.partition(".")
    if not _SCORE_KEY.fullmatch(stage) or not _SCORE_KEY.fullmatch(name):
        raise PolicyError(f"{at}.score accepts STAGE.SCORE (letters, digits, _), e.g. \"quality.alpha_word_fraction\"; got {score!r}")
    out = []
    for p, v in value.items():
        if p == "score":
            continue
        m = _PERCENTILE.fullmatch(p)
        if not m or not 0 <= float(m.group(1)) <= 100:
            raise PolicyError(f"unknown key {p!r} in {at}; accepts score and percentiles p0 .. p100 (e.g. p10, p50)")
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise PolicyError(f"{at}.{p} accepts a number; got {v!r}")
        out.append(Gate(key, f"{score}:{p}", level, v))
    if not out:
        raise PolicyError(f"{at} names no percentile (e.g. p10 = 0.3)")
    return out


def load_policy(path: Path) -> list[Gate]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy {path}: {exc}") from None
    return parse_policy(text, str(path))


def _ids(con: Any, sql: str, params: list[Any]) -> list[str]:
    return [r[0] for r in con.execute(sql + f" ORDER BY doc_id LIMIT {EXAMPLES}", params).fetchall()]


def pii_rows(con: Any) -> dict[str, list[str]]:
    """Entity type -> doc ids (sorted) of PII decisions: evidence `pii` (spans with a `type`, as the
    pii stage writes), or `entities` ({type: count} or a list of types), else the decision's positive
    numeric scores named pii_<type>."""
    from flows.masking import is_pii_stage

    stages = [r[0] for r in con.execute("SELECT DISTINCT stage FROM decisions").fetchall() if is_pii_stage(r[0])]
    rows = con.execute("SELECT doc_id, scores, evidence FROM decisions WHERE list_contains(?, stage) AND doc_id IS NOT NULL "
                       "ORDER BY doc_id", [stages]).fetchall()
    found: dict[str, list[str]] = {}
    for doc_id, scores, evidence in rows:
        ev = json.loads(evidence or "{}")
        ents = ev.get("entities") if isinstance(ev, dict) else None
        spans = ev.get("pii") if isinstance(ev, dict) else None
        if isinstance(spans, list):
            counts: dict[str, Any] = Counter(str(x.get("type")) for x in spans if isinstance(x, dict))
        elif isinstance(ents, list):
            counts = Counter(str(e) for e in ents)
        elif isinstance(ents, dict):
            counts = ents
        else:
            counts = {k.removeprefix("pii_").upper(): v for k, v in json.loads(scores or "{}").items() if k.startswith("pii_")}
        for kind, n in counts.items():
            if isinstance(n, int | float) and not isinstance(n, bool) and n > 0:
                found.setdefault(kind, []).append(doc_id)
    return found


def contamination_where(con: Any) -> tuple[str, list[Any]]:
    """SQL condition (and its parameters) on `decisions` for contaminated documents: removed with
    reason `contamination`, or flagged (kept, evidence `benchmark`) by a stage that declares that reason."""
    from stages import catalog

    found = catalog.all_stages()
    stages = [r[0] for r in con.execute("SELECT DISTINCT stage FROM decisions").fetchall()
              if CONTAMINATION in getattr(found.get(r[0]), "reasons", ())]
    return ("doc_id IS NOT NULL AND (reason = ? OR (list_contains(?, stage) "
            "AND json_extract_string(evidence, '$.benchmark') IS NOT NULL))", [CONTAMINATION, stages])


def _contaminated(con: Any, part: str) -> tuple[int, list[str]]:
    where, params = contamination_where(con)
    if part != "overall":  # the item's benchmark, or any of the items a document matched
        where += (" AND (json_extract_string(evidence, '$.benchmark') = ? "
                  "OR list_contains(json_extract_string(evidence, '$.items[*].benchmark'), ?))")
        params += [part, part]
    n = con.execute(f"SELECT count(DISTINCT doc_id) FROM decisions WHERE {where}", params).fetchone()[0]
    return int(n), _ids(con, f"SELECT DISTINCT doc_id FROM decisions WHERE {where}", params)


def _known_reasons(con: Any) -> set[str]:
    from stages import catalog

    known = {r for cls in catalog.all_stages().values() for r in cls.reasons}
    return known | {r[0] for r in con.execute("SELECT DISTINCT reason FROM decisions WHERE reason IS NOT NULL").fetchall()}


def evaluate(con: Any, gates: list[Gate], previous: Any = None, diff: dict[str, Any] | None = None) -> list[Result]:
    """Evaluate every gate on a read-only ledger connection (`previous`: the earlier release's
    ledger, `diff`: flows.diff.summary of the two), in policy order."""
    counts = dict(con.execute("SELECT final, count(*) FROM documents GROUP BY final").fetchall())
    kept, removed, quarantined = (int(counts.get(k, 0)) for k in ("kept", "removed", "quarantined"))
    entered = kept + removed
    cache: dict[str, Any] = {}
    out = []
    for g in gates:
        name = g.key + (f"[{g.part}]" if g.part else "")
        if g.key in NEEDS_PREVIOUS and previous is None:
            raise GateError(f"gate {name} needs the previous release: give --against PREVIOUS_RUN_DIR")
        value, examples, note = _value(con, g, kept, removed, quarantined, entered, previous, diff, cache)
        if g.key == "required_stages":
            ok, value = bool(value), ("ran" if value else "did not run")
        else:
            ok = value >= g.threshold if KEYS[g.key][1] == "min" else value <= g.threshold
        status = "pass" if ok else g.level
        out.append(Result(f"{'warn_' if g.level == 'warn' else ''}{name}", g.level, value, g.threshold, status,
                          [] if ok and g.key == "min_documents" else examples, note))
    return out


def _value(con: Any, g: Gate, kept: int, removed: int, quarantined: int, entered: int, previous: Any,
           diff: dict[str, Any] | None, cache: dict[str, Any]) -> tuple[Any, list[str], str]:
    if g.key == "min_documents":
        return kept, [], "documents released"
    if g.key == "max_quarantine_rate":
        total = entered + quarantined
        return (quarantined / total if total else 0.0), _ids(
            con, "SELECT doc_id FROM documents WHERE final = 'quarantined' AND doc_id IS NOT NULL", []), f"{quarantined} of {total} records"
    if g.key == "max_removed_rate":
        if g.part == "overall":
            n = removed
            ex = _ids(con, "SELECT doc_id FROM documents WHERE final = 'removed'", [])
        else:
            if "reasons" not in cache:
                cache["reasons"] = _known_reasons(con)
            if g.part not in cache["reasons"]:
                raise GateError(f"max_removed_rate.{g.part}: no stage declares reason {g.part!r}; "
                                f"known: {', '.join(sorted(cache['reasons']))}")
            n = con.execute("SELECT count(*) FROM documents WHERE final = 'removed' AND final_reason = ?", [g.part]).fetchone()[0]
            ex = _ids(con, "SELECT doc_id FROM documents WHERE final = 'removed' AND final_reason = ?", [g.part])
        return (n / entered if entered else 0.0), ex, f"{n} of {entered} documents"
    if g.key == "max_contaminated_documents":
        n, ex = _contaminated(con, g.part)
        return n, ex, ""
    if g.key == "max_pii_documents":
        if "pii" not in cache:
            cache["pii"] = pii_rows(con)
        ids = sorted({d for v in cache["pii"].values() for d in v}) if g.part == "overall" else cache["pii"].get(g.part, [])
        return len(ids), ids[:EXAMPLES], ""
    if g.key == "min_quality_score":
        return _percentile(con, g)
    if g.key == "required_stages":
        ran = con.execute("SELECT count(*) FROM stages WHERE stage = ?", [g.part]).fetchone()[0]
        return bool(ran), [], ""
    if g.key == "max_shrink_vs_previous":
        before = previous.execute("SELECT count(*) FROM documents WHERE final = 'kept'").fetchone()[0]
        shrink = max(0.0, (before - kept) / before) if before else 0.0
        return shrink, list((diff or {}).get("removed_examples", []))[:EXAMPLES], f"{before} -> {kept} documents released"
    # max_new_near_duplicates_of_previous: near_dup removals against earlier releases (near_dup --against)
    where = ("stage = 'near_dup' AND decision = 'removed' AND json_extract_string(evidence, '$.duplicate_of_run') IS NOT NULL")
    if not con.execute("SELECT count(*) FROM stages WHERE stage = 'near_dup' AND "
                       "json_array_length(json_extract(config, '$.against')) > 0").fetchone()[0]:
        raise GateError("gate max_new_near_duplicates_of_previous needs near_dup run against the previous release "
                        "(assay run ... --near-dup-against PREVIOUS_RUN_DIR)")
    n = con.execute(f"SELECT count(*) FROM decisions WHERE {where}").fetchone()[0]
    return int(n), _ids(con, f"SELECT doc_id FROM decisions WHERE {where}", []), ""


def _percentile(con: Any, g: Gate) -> tuple[Any, list[str], str]:
    score, _, p = g.part.partition(":")
    stage, _, name = score.partition(".")
    path = f'$."{name}"'
    if not con.execute("SELECT count(*) FROM stages WHERE stage = ?", [stage]).fetchone()[0]:
        raise GateError(f"min_quality_score: stage {stage!r} did not run, so score {score!r} does not exist")
    sel = ("FROM decisions d JOIN documents USING (doc_id) WHERE d.stage = ? AND documents.final = 'kept' "
           "AND TRY_CAST(json_extract_string(d.scores, ?) AS DOUBLE) IS NOT NULL")
    q = float(p[1:]) / 100
    value, n = con.execute(f"SELECT quantile_cont(TRY_CAST(json_extract_string(d.scores, ?) AS DOUBLE), ?), count(*) {sel}",
                           [path, q, stage, path]).fetchone()
    if not n:
        raise GateError(f"min_quality_score: no released document has score {score!r}")
    ex = [r[0] for r in con.execute(f"SELECT doc_id {sel} ORDER BY TRY_CAST(json_extract_string(d.scores, ?) AS DOUBLE), doc_id "
                                    f"LIMIT {EXAMPLES}", [stage, path, path]).fetchall()]
    return float(value), ex, f"over {n} released documents (lowest shown)"


def exit_code(results: list[Result]) -> int:
    statuses = {r.status for r in results}
    return 1 if "fail" in statuses else (2 if "warn" in statuses else 0)
