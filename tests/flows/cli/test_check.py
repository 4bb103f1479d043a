"""`assay check` exit codes (0 pass, 1 fail, 2 warnings only, 3 could not check), its printed table,
and the markdown summary appended to $GITHUB_STEP_SUMMARY."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from gatekit import corpus, make_run, register, unregister

from flows.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    register()
    tmp = tmp_path_factory.mktemp("check")
    yield {"prev": make_run(tmp, "prev", corpus(30)), "run": make_run(tmp, "run", corpus(40)), "tmp": tmp}
    unregister()


def _policy(tmp: Path, text: str) -> Path:
    path = tmp / f"policy-{abs(hash(text))}.toml"
    path.write_text(text)
    return path


def _check(runs, policy: str, *extra: str) -> int:
    return main(["check", str(runs["run"]), "--policy", str(_policy(runs["tmp"], policy)), *extra])


def test_exit_codes_pass_fail_warn(runs, capsys) -> None:
    assert _check(runs, "min_documents = 1\nrequired_stages = ['quality']\n") == 0
    assert "assay check: PASSED (exit 0)" in capsys.readouterr().out
    assert _check(runs, "min_documents = 1\nwarn_max_contaminated_documents = 0\n") == 2
    out = capsys.readouterr().out
    assert "WARN    warn_max_contaminated_documents[overall]" in out and "PASSED WITH WARNINGS (exit 2)" in out
    assert _check(runs, "warn_min_documents = 1000\nmax_contaminated_documents = {mmlu = 0}\n") == 1
    out = capsys.readouterr().out
    assert "FAIL    max_contaminated_documents[mmlu]" in out and "d007, d017, d027" in out and "FAILED (exit 1)" in out


def test_results_are_queryable_with_assay_sql(runs, capsys) -> None:
    assert _check(runs, "max_contaminated_documents = {mmlu = 0}\n", "--against", str(runs["prev"])) == 1
    capsys.readouterr()
    assert main(["sql", str(runs["run"]), "SELECT name, status, examples FROM gates", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"name": "max_contaminated_documents[mmlu]", "status": "fail", "examples": ["d007", "d017", "d027"]}]
    assert main(["sql", str(runs["run"]), "SELECT change, count(*) AS n FROM diff_documents GROUP BY change"]) == 0
    assert "added" in capsys.readouterr().out


@pytest.mark.parametrize("what", ["no manifest", "bad ledger", "bad toml", "unknown key", "no previous", "usage", "no against dir"])
def test_the_check_that_cannot_run_exits_3_with_one_line(runs, tmp_path, capsys, what) -> None:
    run = runs["run"]
    policy = _policy(tmp_path, "min_documents = 1\n")
    if what == "no manifest":
        (tmp_path / "half").mkdir()
        argv = ["check", str(tmp_path / "half"), "--policy", str(policy)]
    elif what == "bad ledger":
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "manifest.json").write_text((run / "manifest.json").read_text())
        (bad / "ledger.duckdb").write_bytes(b"not a database" * 100)
        argv = ["check", str(bad), "--policy", str(policy)]
    elif what == "bad toml":
        argv = ["check", str(run), "--policy", str(_policy(tmp_path, "min_documents = = 3"))]
    elif what == "unknown key":
        argv = ["check", str(run), "--policy", str(_policy(tmp_path, "max_documents = 3"))]
    elif what == "no previous":
        argv = ["check", str(run), "--policy", str(_policy(tmp_path, "max_shrink_vs_previous = 0.1"))]
    elif what == "no against dir":
        argv = ["check", str(run), "--policy", str(policy), "--against", str(tmp_path / "nope")]
    else:
        argv = ["check", str(run)]
    assert main(argv) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ("cannot check" in err or "usage error" in err), err


def test_markdown_summary_is_appended_to_the_github_step_summary(runs, tmp_path, monkeypatch, capsys) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert _check(runs, "max_contaminated_documents = {mmlu = 0}\nwarn_min_documents = 1\n", "--against", str(runs["prev"])) == 1
    text = summary.read_text()
    assert text.startswith("# earlier step\n## ❌ assay check: FAILED (exit 1)")
    mmlu = sorted(r["id"] for r in corpus(40) if "LEAK-mmlu" in r["text"])
    assert f"| FAIL | max_contaminated_documents[mmlu] | {len(mmlu)} | <= 0 | {', '.join(mmlu[:3])} |  |" in text
    assert "| ok | warn_min_documents |" in text and "### Release diff:" in text and "| added |" in text
    assert _check(runs, "min_documents = 1\n") == 0
    assert summary.read_text().count("assay check:") == 2  # appended, never replaced
