"""Every bad option value, from a flag or a config file, is a usage error: exit 2 and one line that
names the option and says what it accepts. Nothing here runs the pipeline: the checks come first."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main


def one_line_usage_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err and "usage error" in err, err
    assert captured.out == ""
    return err


@pytest.mark.parametrize(("flags", "words"), [
    (["--quality-min-words", "thirty"], ["--quality-min-words", "accepts an integer >= 0", "'thirty'"]),
    (["--quality-max-bullet-line-fraction", "1.5"], ["--quality-max-bullet-line-fraction", "[0, 1]"]),
    (["--quality-min-words", "-1"], ["--quality-min-words", ">= 0"]),
    (["--near-dup-keep", "biggest"], ["keep", "biggest"]),
    (["--near-dup-threshold", "2"], ["threshold"]),
    (["--near-dup-threshold", "nan"], ["threshold"]),
    (["--shard-size", "0"], ["--shard-size", "accepts an integer >= 1"]),
    (["--shard-size", "many"], ["--shard-size", "accepts an integer >= 1"]),
    (["--max-doc-bytes", "1.5"], ["--max-doc-bytes", "accepts an integer >= 1"]),
    (["--record-kind", "tweet"], ["--record-kind", "accepts one of auto, text, instruction"]),
    (["--engine", "spark"], ["--engine", "invalid choice"]),
    (["--stages", "exact_dup,nope"], ["unknown stage 'nope'", "available:"]),
    (["--stages", "quality,quality"], ["named twice"]),
    (["--stages", "exact_dup", "--quality-min-words", "3"], ["options given for stage(s) not in this run: quality"]),
    (["--quality-min-wordz", "3"], ["unrecognized arguments: --quality-min-wordz"]),
])
def test_bad_flag(tmp_path: Path, capsys, flags: list[str], words: list[str]) -> None:
    err = one_line_usage_error(capsys, ["run", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o"), *flags])
    assert all(w in err for w in words), err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("toml", "words"), [
    ('[stage.quality]\nmin_words = "thirty"\n', ["'min_words'", "accepts an integer >= 0", "'thirty'"]),
    ("[stage.quality]\nmin_words = 3.5\n", ["'min_words'", "integer"]),
    ('[stage.near_dup]\nkeep = "biggest"\n', ["keep", "biggest"]),
    ("[stage.near_dup]\nthreshold = 2\n", ["threshold"]),
    ('stage = ["quality"]\n', ["'stage'", "[stage.NAME] tables"]),
    ("[stage]\nquality = 5\n", ["'stage'", "[stage.NAME] tables"]),
    ("[stage.quality]\nmin_wordz = 3\n", ["min_wordz", "min_words"]),
    ("[stage.nope]\nx = 1\n", ["nope"]),
    ('stages = "quality"\n', ["'stages'", "a list of stage names"]),
    ('stages = ["quality", "nope"]\n', ["unknown stage 'nope'"]),
    ('shard_size = "big"\n', ["'shard_size'", "accepts an integer >= 1"]),
    ("max_doc_bytes = 0\n", ["'max_doc_bytes'", "accepts an integer >= 1"]),
    ("text_field = 3\n", ["'text_field'", "accepts a string"]),
    ('record_kind = "tweet"\n', ["'record_kind'", "accepts one of"]),
    ("colour = 1\n", ["unknown key(s) ['colour']", "known:"]),
    ("min_words = \n", ["not valid TOML"]),
])
def test_bad_config_file(tmp_path: Path, capsys, toml: str, words: list[str]) -> None:
    cfg = tmp_path / "assay.toml"
    cfg.write_text(toml)
    err = one_line_usage_error(capsys, ["run", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert all(w in err for w in words), err


def test_missing_config_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    err = one_line_usage_error(capsys, ["run", "in.jsonl", "--out", str(tmp_path / "o"), "--config", str(tmp_path / "no.toml")])
    assert "no.toml" in err


@pytest.mark.parametrize("argv", [["run", "--out", "o"], ["bogus"], [], ["sql", "only-a-run-dir"],
                                  ["sql", "r", "SELECT 1", "--format", "xml"], ["show", "r"]])
def test_argparse_errors_are_one_line_too(capsys, argv: list[str]) -> None:
    one_line_usage_error(capsys, argv)


def test_flags_override_the_config_file_option_by_option(tmp_path: Path) -> None:
    from flows.cli import build_parser
    from flows.cli.run import run_options

    cfg = tmp_path / "assay.toml"
    cfg.write_text('text_field = "content"\nshard_size = 7\nstages = ["quality"]\n'
                   "[stage.quality]\nmin_words = 5\nmax_words = 10\n")
    args = build_parser("run").parse_args(["run", "in.jsonl", "--out", "o", "--config", str(cfg), "--quality-min-words", "50"])
    opts = run_options(args)
    assert dict(opts.stage_options) == {"quality": {"min_words": 50, "max_words": 10}}
    assert opts.ingest.text_field == "content" and opts.ingest.id_field == "id"
    assert opts.shard_size == 7 and opts.stages == ("quality",)
    args = build_parser("run").parse_args(["run", "in.jsonl", "--out", "o", "--config", str(cfg), "--stages", "",
                                           "--text-field", "body", "--shard-size", "3"])
    opts = run_options(args)
    assert opts.stages == () and opts.ingest.text_field == "body" and opts.shard_size == 3
