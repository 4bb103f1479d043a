"""The command line as users meet it: help, --version, `assay stages`, what `--help` imports, and how
failures are reported (exit codes, ASSAY_DEBUG)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import make_run

from flows.cli import _discover, main

COMMANDS = _discover()
from flows.cli.options import show_default
from stages import catalog
from stages.options import accepts, spec_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def wide_help(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps help at the terminal width


@pytest.mark.parametrize("cmd", [[], *([c] for c in COMMANDS)])
def test_help_everywhere(cmd: list[str], capsys) -> None:
    assert main([*cmd, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: assay {' '.join(cmd)}".rstrip())


def test_top_level_help_lists_every_command(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"    {c} " in out for c in COMMANDS)


def help_line(out: str, flag: str) -> str:
    """A flag's help entry: its line and the indented lines under it (argparse may break after a long flag)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().split(" ")[0].rstrip(",") == flag)
    end = next((j for j in range(start + 1, len(lines)) if not lines[j].startswith(" " * 8)), len(lines))
    return " ".join(line.strip() for line in lines[start:end])


def test_run_help_shows_every_stage_option_with_default_accepts_and_meaning(capsys) -> None:
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    for name, cls in catalog.all_stages().items():
        for f in dataclasses.fields(cls):
            line = help_line(out, f"--{name}-{f.name}".replace("_", "-"))
            assert f"Accepts {accepts(cls, f)}; default {show_default(f.default)}" in line, line
            assert spec_of(f).help in line
            if spec_of(f).alias:
                assert f", {spec_of(f).alias} " in line
    assert "Accepts an integer >= 0; default 50;" in help_line(out, "--quality-min-words")
    assert "--provenance-license TEXT, --license TEXT" in out
    assert "default text." in help_line(out, "--text-field")
    assert "default 20000" in help_line(out, "--shard-size")


def test_aliases_and_repeatable_options_reach_the_stage_options() -> None:
    from flows.cli import build_parser
    from flows.cli.options import collect

    args = build_parser("run").parse_args(["run", "in.jsonl", "--out", "o", "--license", "cc-by", "--against", "r1",
                                           "--near-dup-against", "r2", "--quality-min-words", "7", "--field-map", "output=response"])
    stage_opts, ingest = collect(args)
    assert stage_opts == {"provenance": {"license": "cc-by"}, "near_dup": {"against": ["r1", "r2"]},
                          "quality": {"min_words": 7}}
    assert ingest == {"field_map": ["output=response"]}


def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("assay ") and "src-" in out and out.count("\n") == 1


def test_stages_lists_every_stage_in_run_order_with_its_options(capsys) -> None:
    assert main(["stages", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in info] == list(catalog.ordered())
    found = catalog.all_stages()
    for s in info:
        cls = found[s["name"]]
        assert s["reasons"] == sorted(cls.reasons) and s["version"] == cls.version and s["scope"] == cls.scope
        defaults = {f.name: list(f.default) if isinstance(f.default, tuple) else f.default for f in dataclasses.fields(cls)}
        assert {o["name"]: o["default"] for o in s["options"]} == defaults
    assert main(["stages", "quality"]) == 0
    out = capsys.readouterr().out
    assert "quality  v1, document scope" in out and "min_words = 50    [--quality-min-words]" in out
    assert "too_few_words" in out and "near_dup  v" not in out
    assert main(["stages", "nope"]) == 2
    assert "unknown stage(s) ['nope']" in capsys.readouterr().err


def test_help_and_sql_import_no_heavy_packages(tmp_path: Path) -> None:
    """`assay --help` and `assay sql` stay fast: no torch, numba, Prefect, polars; `assay run --help`
    needs the stage catalog (polars) but neither torch, numba nor Prefect."""
    run = make_run(tmp_path / "run")
    code = f"""
import sys, time
from flows.cli import main
heavy = ("torch", "numba", "prefect", "polars", "duckdb", "eval")
t = time.perf_counter(); main(["--help"]); help_s = time.perf_counter() - t
print("HELP", sorted(m for m in heavy if m in sys.modules), help_s)
main(["sql", {str(run)!r}, "SELECT count(*) FROM documents"])
print("SQL", sorted(m for m in heavy if m in sys.modules))
main(["run", "--help"])
print("RUN", sorted(m for m in heavy if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.split() and line.split()[0] in ("HELP", "SQL", "RUN")}
    assert lines["HELP"].startswith("HELP []"), lines["HELP"]
    assert float(lines["HELP"].split()[-1]) < 1.0
    assert lines["SQL"] == "SQL ['duckdb']"
    assert lines["RUN"] == "RUN ['duckdb', 'polars']"


def test_a_bug_is_not_reported_as_a_usage_error(tmp_path: Path, monkeypatch, capsys) -> None:
    import flows.execute

    def broken(_opts):
        return {}["missing"]  # a KeyError from a bug, not from the user's input

    monkeypatch.setattr(flows.execute, "run_local", broken)
    monkeypatch.delenv("ASSAY_DEBUG", raising=False)
    args = ["run", str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "o"), "--engine", "local", "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "KeyError" in err and "ASSAY_DEBUG=1" in err and err.count("\n") == 1
    monkeypatch.setenv("ASSAY_DEBUG", "1")
    with pytest.raises(KeyError, match="missing"):
        main(args)
