"""Every bad-input case from the foundation issue: a quarantine row with a clear reason, or a clear
one-line error for unusable paths. Never a crash, never a silent loss."""
from __future__ import annotations

import builtins
import gzip
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
import zstandard
from conftest import prose, write_jsonl

from flows.cli import main
from flows.runner import RunOptions, run_local
from stages.readers import InputError

GOOD = [{"id": f"g{i}", "text": prose(i)} for i in range(3)]


def curate(tmp_path: Path, *inputs: Path, **kw) -> tuple[dict, duckdb.DuckDBPyConnection]:
    out = tmp_path / "run"
    manifest = run_local(RunOptions(inputs=tuple(str(i) for i in inputs), out=out, stages=(), progress=False, **kw))
    con = duckdb.connect(str(out / "ledger.duckdb"), read_only=True)
    assert manifest["records"] == manifest["kept"] + manifest["removed"] + manifest["quarantined"]
    return manifest, con


def reasons(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT input_line, reason FROM quarantine ORDER BY input_file, input_line NULLS FIRST").fetchall()


@pytest.mark.parametrize(
    "line,reason",
    [
        (b'{"text": "unterminated\n', "invalid_json"),
        (b'{"text": "caf\xe9 latin-1 byte"}\n', "invalid_utf8"),
        (b'{"body": "no text"}\n', "missing_text"),
        (b'{"text": null}\n', "null_text"),
        (b'{"text": 42}\n', "text_not_string"),
        (b'{"text": ["a", "list"]}\n', "text_not_string"),
        (b'{"text": ""}\n', "empty_text"),
        (b'{"text": " \\t\\n "}\n', "empty_text"),
        (b'{"text": "nul \\u0000 inside"}\n', "nul_bytes"),
        (b'{"text": "raw nul \x00 byte"}\n', "nul_bytes"),
        (b'["not", "an", "object"]\n', "not_an_object"),
        (b'{"id": {"nested": 1}, "text": "x"}\n', "invalid_id"),
    ],
)
def test_bad_record_is_quarantined(tmp_path: Path, line: bytes, reason: str) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", GOOD, [line, json.dumps({"id": "after", "text": prose(9)}).encode() + b"\n"])
    manifest, con = curate(tmp_path, f)
    assert reasons(con) == [(4, reason)]
    assert manifest["kept"] == 4  # the records around the bad one are untouched
    excerpt = con.execute("SELECT excerpt FROM quarantine").fetchone()[0]
    assert len(excerpt.encode()) <= 4 * 160


def test_huge_document_is_quarantined_without_crashing(tmp_path: Path) -> None:
    big = json.dumps({"id": "big", "text": "word " * 20_000_000}).encode() + b"\n"  # ~100 MB
    f = write_jsonl(tmp_path / "in.jsonl", GOOD, [big])
    manifest, con = curate(tmp_path, f)
    assert reasons(con) == [(4, "too_large")] and manifest["kept"] == 3


def test_duplicate_ids_within_and_across_files(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", GOOD + [{"id": "g1", "text": prose(20)}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "g0", "text": prose(21)}, {"id": 7, "text": prose(22)}])
    manifest, con = curate(tmp_path, a, b)
    rows = con.execute("SELECT input_file, input_line, reason, detail FROM quarantine ORDER BY input_file").fetchall()
    assert [(Path(r[0]).name, r[1], r[2]) for r in rows] == [("a.jsonl", 4, "duplicate_id"), ("b.jsonl", 1, "duplicate_id")]
    assert "a.jsonl:1" in rows[1][3]  # says where the id was first seen
    assert manifest["kept"] == 4


def test_bom_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(json.dumps(r).encode() for r in GOOD))  # no final newline
    manifest, con = curate(tmp_path, f)
    assert manifest["kept"] == 3 and manifest["quarantined"] == 0
    texts = pl.read_parquet(tmp_path / "run" / "curated").sort("id")["text"].to_list()
    assert texts == [r["text"] for r in GOOD]  # no stray \r or BOM in the text


def test_mixed_encodings_quarantine_only_the_bad_lines(tmp_path: Path) -> None:
    lines = [json.dumps({"text": "ok: café " + prose(1)}, ensure_ascii=False).encode("utf-8") + b"\n",
             json.dumps({"text": "latin: café " + prose(2)}, ensure_ascii=False).encode("latin-1") + b"\n",
             json.dumps({"text": "cp1252: “quotes” " + prose(3)}, ensure_ascii=False).encode("cp1252") + b"\n"]
    f = write_jsonl(tmp_path / "in.jsonl", [], lines)
    manifest, con = curate(tmp_path, f)
    assert reasons(con) == [(2, "invalid_utf8"), (3, "invalid_utf8")] and manifest["kept"] == 1


def test_truncated_gzip_keeps_the_head_and_quarantines_the_tail(tmp_path: Path) -> None:
    body = b"".join(json.dumps({"text": prose(i)}).encode() + b"\n" for i in range(400))
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(gzip.compress(body)[:-2000])
    manifest, con = curate(tmp_path, f)
    rows = reasons(con)
    assert len(rows) == 1 and rows[0][1] == "truncated_stream"
    assert 0 < manifest["kept"] < 400 and rows[0][0] == manifest["kept"] + 1


def test_truncated_zstd_is_reported(tmp_path: Path) -> None:
    body = b"".join(json.dumps({"text": prose(i)}).encode() + b"\n" for i in range(50))
    f = tmp_path / "cut.jsonl.zst"
    f.write_bytes(zstandard.ZstdCompressor().compress(body)[:-50])
    _, con = curate(tmp_path, f)
    assert [r[1] for r in reasons(con)] == ["truncated_stream"]


def test_compressed_and_parquet_inputs_are_read(tmp_path: Path) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in GOOD)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl.gz").write_bytes(gzip.compress(body))
    (tmp_path / "d" / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body.replace(b'"g', b'"z')))
    pl.DataFrame({"id": ["p1"], "text": [prose(5)], "lang": ["en"]}).write_parquet(tmp_path / "d" / "c.parquet")
    manifest, _ = curate(tmp_path, tmp_path / "d")
    assert manifest["kept"] == 7
    curated = pl.read_parquet(tmp_path / "run" / "curated")
    assert json.loads(curated.filter(pl.col("id") == "p1")["meta"][0]) == {"lang": "en"}  # metadata kept


def test_empty_file_and_zero_row_parquet_are_file_issues(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    pl.DataFrame({"text": []}, schema={"text": pl.String}).write_parquet(tmp_path / "zero.parquet")
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    manifest, con = curate(tmp_path, tmp_path / "empty.jsonl", tmp_path / "zero.parquet", good)
    assert sorted(r[1] for r in reasons(con)) == ["empty_file", "empty_file"]
    assert manifest["file_issues"] == 2 and manifest["kept"] == 3


def test_parquet_without_text_column_quarantines_each_row(tmp_path: Path) -> None:
    pl.DataFrame({"id": ["a", "b"], "body": ["x", "y"]}).write_parquet(tmp_path / "notext.parquet")
    pl.DataFrame({"content": [prose(1), None]}).write_parquet(tmp_path / "mapped.parquet")
    manifest, con = curate(tmp_path, tmp_path / "notext.parquet")
    assert reasons(con) == [(1, "missing_text"), (2, "missing_text")] and manifest["kept"] == 0
    manifest, con = curate(tmp_path / "m", tmp_path / "mapped.parquet", text_field="content")
    assert reasons(con) == [(2, "null_text")] and manifest["kept"] == 1


def test_text_and_id_fields_can_be_mapped(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"uid": "u1", "content": prose(1), "text": "not this"}])
    curate(tmp_path, f, text_field="content", id_field="uid")
    row = pl.read_parquet(tmp_path / "run" / "curated").row(0, named=True)
    assert row["id"] == "u1" and row["text"] == prose(1) and json.loads(row["meta"]) == {"text": "not this"}


def test_missing_path_and_empty_directory_fail_with_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "nodata").mkdir()
    (tmp_path / "nodata" / "readme.txt").write_text("x")
    for target, words in ((tmp_path / "absent.jsonl", "does not exist"), (tmp_path / "nodata", "no data files")):
        assert main(["run", str(target), "--out", str(tmp_path / "o"), "--quiet"]) == 1
        err = capsys.readouterr().err.strip()
        assert words in err and str(target) in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_unreadable_file_fails_the_run(tmp_path: Path, monkeypatch, capsys) -> None:
    # Tests run as root in CI, where chmod 000 does not stop reads: simulate the OS refusing instead.
    f = write_jsonl(tmp_path / "locked.jsonl", GOOD)
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if Path(str(file)) == f:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    with pytest.raises(InputError, match="cannot read input .*locked.jsonl: Permission denied"):
        run_local(RunOptions(inputs=(str(f),), out=tmp_path / "o", stages=(), progress=False))
    assert main(["run", str(f), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert "Permission denied" in capsys.readouterr().err


def test_quarantine_excerpt_masks_pii(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [], [b'{"text": "mail jane.doe@corp.example or +1 (555) 123-4567", broken\n'])
    _, con = curate(tmp_path, f)
    excerpt = con.execute("SELECT excerpt FROM quarantine").fetchone()[0]
    assert "jane.doe" not in excerpt and "123-4567" not in excerpt and "[EMAIL]" in excerpt


def test_max_doc_bytes_is_configurable(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", GOOD)
    assert main(["run", str(f), "--out", str(tmp_path / "o"), "--stages", "", "--max-doc-bytes", "500", "--quiet"]) == 0
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["quarantined"] == 3 and m["kept"] == 0


def test_blank_lines_are_counted_not_silently_dropped(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", GOOD, [b"\n", b"   \r\n", json.dumps({"text": prose(7)}).encode() + b"\n"])
    manifest, _ = curate(tmp_path, f)
    assert manifest["blank_lines"] == 2 and manifest["kept"] == 4 and manifest["quarantined"] == 0
