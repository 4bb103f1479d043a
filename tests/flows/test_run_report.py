"""The run report: what it shows (funnel with bytes, reasons, scores, clusters, contamination, PII,
quarantine, timings), that `assay run` writes it and `assay report` rebuilds it, that it opens
offline, and that headless Chromium draws its charts."""
from __future__ import annotations

import re
import shutil
import subprocess

import polars as pl
import pytest
from conftest import write_jsonl
from gatekit import STAGES, corpus, make_run, register, unregister

from flows.cli import main
from flows.run_report import collect, write


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    register()
    tmp = tmp_path_factory.mktemp("report")
    yield make_run(tmp, "run", corpus(40))
    unregister()


def _frame(files) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(f) for f in sorted(files)], how="diagonal")


def test_funnel_counts_and_bytes_follow_the_run(run) -> None:
    import json

    d = collect(run)
    manifest = json.loads((run / "manifest.json").read_text())
    steps = [r["step"] for r in d["funnel"]]
    assert steps == ["ingest", *STAGES]
    first, last = d["funnel"][0], d["funnel"][-1]
    assert (first["docs_in"], first["removed"]) == (manifest["records"], manifest["quarantined"])
    assert last["docs_out"] == manifest["kept"]
    for a, b in zip(d["funnel"], d["funnel"][1:], strict=False):
        assert b["docs_in"] == a["docs_out"] and b["bytes_in"] == a["bytes_out"]
    released = _frame((run / "curated").glob("*.parquet"))
    assert last["bytes_out"] == sum(len(t.encode()) for t in released["text"].to_list())
    assert all(r["seconds"] is not None for r in d["funnel"])


def test_sections_hold_reasons_scores_clusters_contamination_pii_quarantine(run) -> None:
    rows = corpus(40)
    d = collect(run)
    leaks = {b: sum(f"LEAK-{b}" in r["text"] for r in rows) for b in ("gsm8k", "mmlu")}
    assert {(b, n) for b, n, *_ in d["contamination"]} == set(leaks.items())
    assert ("test_contam", "contamination", sum(leaks.values())) in d["reasons"]
    emails = sum("@" in r["text"] and "LEAK-" not in r["text"] for r in rows)
    assert dict(d["pii"]) == {"EMAIL_ADDRESS": emails, "PHONE_NUMBER": emails}
    shorts = sum(r["text"] == "too short" for r in rows)
    assert d["clusters"] == [("exact_dup", shorts, 1)]  # the short copies: one cluster
    names = {(s["stage"], s["score"]) for s in d["scores"]}
    assert {("quality", "quality_words"), ("test_contam", "test_contam_overlap")} <= names
    for s in d["scores"]:
        assert sum(map(sum, s["counts"].values())) == s["n"] and len(s["edges"]) == len(next(iter(s["counts"].values()))) + 1
    (reason, n, examples), = d["quarantine"]
    assert (reason, n) == ("invalid_json", 1) and examples[0][1] == "{not json"


def test_html_opens_offline_and_markdown_has_the_same_sections(run) -> None:
    html_path, md_path = write(run)
    html = html_path.read_text()
    from plotly.offline import get_plotlyjs

    assert html.count(get_plotlyjs()) == 1  # plotly.js inline, once
    page = html.replace(get_plotlyjs(), "")
    assert "<script src" not in page and "<link" not in page and not re.search(r"https?://", page)
    assert "Plotly.newPlot" in html and html.count('class="plotly-graph-div"') >= 8
    md = md_path.read_text()
    for section in ("## Funnel", "## Removal reasons", "## Score distributions", "## Duplicate clusters",
                    "## Contamination per benchmark", "## PII per entity type", "## Quarantine"):
        assert section in md and section.removeprefix("## ") in html
    assert "| EMAIL_ADDRESS |" in md and "@example.com" not in html + md  # counts only, never the PII itself


def test_assay_run_writes_the_report_and_assay_report_rebuilds_it(tmp_path, capsys) -> None:
    write_jsonl(tmp_path / "in" / "a.jsonl", corpus(20))
    assert main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "r"), "--stages", "exact_dup,quality"]) == 0
    assert "report.html (opens offline)" in capsys.readouterr().out
    html = tmp_path / "r" / "report.html"
    assert html.exists() and (tmp_path / "r" / "report.md").exists()
    html.unlink()
    assert main(["report", str(tmp_path / "r")]) == 0
    assert "Funnel" in html.read_text()
    assert main(["report", str(tmp_path / "nothing")]) == 1


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install -y chromium)")
    return exe


@pytest.mark.slow
def test_chromium_draws_every_chart(run, tmp_path) -> None:
    exe = _chromium()
    html_path, _ = write(run)
    n_charts = html_path.read_text().count('class="plotly-graph-div"')
    # every request goes to a proxy that does not exist: only a page that needs nothing from outside draws
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*args, "--dump-dom", html_path.as_uri()], capture_output=True, text=True, timeout=120).stdout
    # plotly replaces each empty div by an SVG drawing with bars: the page drew, offline
    assert dom.count('class="main-svg"') >= n_charts
    assert len(re.findall(r'class="point"', dom)) >= n_charts
