"""Every bad-input case from the foundation issue: a quarantine row with a clear reason, or a clear
one-line InputError for unusable paths. Never a crash, never a silent loss (ingestkit checks
conservation file by file on every call)."""
from __future__ import annotations

import builtins
import gzip
import json
from pathlib import Path

import polars as pl
import pytest
import zstandard
from conftest import prose, write_jsonl
from ingestkit import ingest, jsonl_line

from flows.errors import InputError
from flows.ingest.quarantine import EXCERPT_BYTES

GOOD = [{"id": f"g{i}", "text": prose(i)} for i in range(3)]


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
        (b'{"id": true, "text": "x"}\n', "invalid_id"),
    ],
)
def test_bad_record_is_quarantined(tmp_path: Path, line: bytes, reason: str) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", GOOD, [line, jsonl_line({"id": "after", "text": prose(9)})])
    got = ingest(f)
    assert got.reasons() == [(4, reason)]
    assert got.docs["doc_id"].to_list() == ["g0", "g1", "g2", "after"]  # the records around it are untouched
    assert len(got.quarantine["excerpt"][0].encode()) <= 4 * EXCERPT_BYTES


def test_huge_document_is_quarantined_without_crashing(tmp_path: Path) -> None:
    big = json.dumps({"id": "big", "text": "word " * 20_000_000}).encode() + b"\n"  # ~100 MB
    got = ingest(write_jsonl(tmp_path / "in.jsonl", GOOD, [big]))
    assert got.reasons() == [(4, "too_large")] and got.docs.height == 3
    assert got.quarantine["detail"][0] == f"{len(big) - 1} bytes > max_doc_bytes 16000000"


def test_max_doc_bytes_is_configurable(tmp_path: Path) -> None:
    got = ingest(write_jsonl(tmp_path / "in.jsonl", GOOD), max_doc_bytes=500)
    assert got.reasons() == [(1, "too_large"), (2, "too_large"), (3, "too_large")] and got.docs.height == 0


def test_duplicate_ids_within_and_across_files(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", GOOD + [{"id": "g1", "text": prose(20)}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "g0", "text": prose(21)}, {"id": 7, "text": prose(22)}])
    got = ingest(a, b)
    rows = got.quarantine.select("input_file", "input_line", "reason", "detail").rows()
    assert rows == [("a.jsonl", 4, "duplicate_id", "id first seen at a.jsonl:2"),
                    ("b.jsonl", 1, "duplicate_id", "id first seen at a.jsonl:1")]
    assert got.docs["doc_id"].to_list() == ["g0", "g1", "g2", "7"]


def test_repeated_content_without_ids_gets_numbered_ids(tmp_path: Path) -> None:
    got = ingest(write_jsonl(tmp_path / "in.jsonl", [{"text": "same words"}] * 3))
    base = "93b287590ee25237"  # sha1("same words")[:16]: the ids of plain corpora did not change
    assert got.docs["doc_id"].to_list() == [base, f"{base}-2", f"{base}-3"] and got.reasons() == []


def test_bom_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(json.dumps(r).encode() for r in GOOD))  # no final newline
    got = ingest(f)
    assert got.reasons() == []
    assert got.docs["text"].to_list() == [r["text"] for r in GOOD]  # no stray \r or BOM in the text


def test_mixed_encodings_quarantine_only_the_bad_lines(tmp_path: Path) -> None:
    lines = [json.dumps({"text": "ok: café " + prose(1)}, ensure_ascii=False).encode("utf-8") + b"\n",
             json.dumps({"text": "latin: café " + prose(2)}, ensure_ascii=False).encode("latin-1") + b"\n",
             json.dumps({"text": "cp1252: “quotes” " + prose(3)}, ensure_ascii=False).encode("cp1252") + b"\n"]
    got = ingest(write_jsonl(tmp_path / "in.jsonl", [], lines))
    assert got.reasons() == [(2, "invalid_utf8"), (3, "invalid_utf8")] and got.docs.height == 1


def test_truncated_gzip_keeps_the_head_and_quarantines_the_tail(tmp_path: Path) -> None:
    body = b"".join(json.dumps({"text": prose(i)}).encode() + b"\n" for i in range(400))
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(gzip.compress(body)[:-2000])
    got = ingest(f)
    rows = got.reasons()
    assert len(rows) == 1 and rows[0][1] == "truncated_stream"
    assert 0 < got.docs.height < 400 and rows[0][0] == got.docs.height + 1


def test_truncated_zstd_is_reported(tmp_path: Path) -> None:
    body = b"".join(json.dumps({"text": prose(i)}).encode() + b"\n" for i in range(50))
    f = tmp_path / "cut.jsonl.zst"
    f.write_bytes(zstandard.ZstdCompressor().compress(body)[:-50])
    assert [r[1] for r in ingest(f).reasons()] == ["truncated_stream"]


def test_compressed_and_parquet_inputs_are_read(tmp_path: Path) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in GOOD)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl.gz").write_bytes(gzip.compress(body))
    (tmp_path / "d" / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body.replace(b'"g', b'"z')))
    pl.DataFrame({"id": ["p1"], "text": [prose(5)], "lang": ["en"]}).write_parquet(tmp_path / "d" / "c.parquet")
    got = ingest(tmp_path / "d")
    assert got.docs["doc_id"].to_list() == ["g0", "g1", "g2", "z0", "z1", "z2", "p1"]
    assert got.docs["input_file"].unique(maintain_order=True).to_list() == ["d/a.jsonl.gz", "d/b.jsonl.zst", "d/c.parquet"]
    assert json.loads(got.doc("p1")["meta"]) == {"lang": "en"}  # metadata kept
    assert got.doc("p1")["source"] == "c" and got.doc("z0")["source"] == "b"  # the file's name, no extensions


def test_source_field_and_configured_source(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "web.jsonl", [{"text": "a b", "source": "cc"}, {"text": "c d", "source": 5}])
    assert ingest(f).docs["source"].to_list() == ["cc", "web"]  # a non-string source field is not a source
    assert ingest(f, source="crawl").docs["source"].to_list() == ["cc", "crawl"]


def test_empty_file_and_zero_row_parquet_are_file_issues(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n \n")
    pl.DataFrame({"text": []}, schema={"text": pl.String}).write_parquet(tmp_path / "zero.parquet")
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    got = ingest(tmp_path / "empty.jsonl", tmp_path / "blank.jsonl", tmp_path / "zero.parquet", good)
    assert got.quarantine.select("input_file", "input_line", "reason").rows() == [
        ("empty.jsonl", None, "empty_file"), ("blank.jsonl", None, "empty_file"), ("zero.parquet", None, "empty_file")]
    assert got.docs.height == 3 and got.blank == 2


def test_parquet_without_text_column_quarantines_each_row(tmp_path: Path) -> None:
    pl.DataFrame({"id": ["a", "b"], "body": ["x", "y"]}).write_parquet(tmp_path / "notext.parquet")
    pl.DataFrame({"content": [prose(1), None]}).write_parquet(tmp_path / "mapped.parquet")
    got = ingest(tmp_path / "notext.parquet")
    assert got.reasons() == [(1, "missing_text"), (2, "missing_text")] and got.docs.height == 0
    got = ingest(tmp_path / "mapped.parquet", text_field="content")
    assert got.reasons() == [(2, "null_text")] and got.docs.height == 1


def test_text_and_id_fields_can_be_mapped(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"uid": "u1", "content": prose(1), "text": "not this"}])
    row = ingest(f, text_field="content", id_field="uid").doc("u1")
    assert row["text"] == prose(1) and json.loads(row["meta"]) == {"text": "not this"} and row["kind"] == "text"


def test_missing_path_and_folder_without_data_fail_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "nodata").mkdir()
    (tmp_path / "nodata" / "readme.txt").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    cases = ((tmp_path / "absent.jsonl", "input does not exist: "),
             (tmp_path / "nodata", "no data files (.jsonl, .ndjson, .json (plain, .gz or .zst), .parquet, .warc(.gz), .html/.htm(.gz)) in directory: "),
             (tmp_path / "notes.txt", "not a data file (.jsonl, .ndjson, .json (plain, .gz or .zst), .parquet, .warc(.gz), .html/.htm(.gz)): "))
    for target, words in cases:
        with pytest.raises(InputError) as err:
            ingest(target)
        assert str(err.value).startswith(words + str(target)) and "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"it holds 1 other entry, e.g. readme.txt \(unsupported type .txt\)$"):
        ingest(tmp_path / "nodata")


def test_unreadable_file_fails_the_run(tmp_path: Path, monkeypatch) -> None:
    # Tests run as root in CI, where chmod 000 does not stop reads: simulate the OS refusing instead.
    f = write_jsonl(tmp_path / "locked.jsonl", GOOD)
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if Path(str(file)) == f.resolve():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    with pytest.raises(InputError, match=f"^cannot read input {f}: Permission denied$"):
        ingest(f)
    with pytest.raises(InputError, match="^cannot read input .*/locked.jsonl: Permission denied$"):
        ingest(tmp_path)


def test_quarantine_excerpt_masks_pii(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [], [b'{"text": "mail jane.doe@corp.example or +1 (555) 123-4567", broken\n'])
    excerpt = ingest(f).quarantine["excerpt"][0]
    assert excerpt == '{"text": "mail <EMAIL> or <PHONE>", broken'  # the PII engine's typed placeholders


def test_blank_lines_are_counted_not_silently_dropped(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", GOOD, [b"\n", b"   \r\n", jsonl_line({"text": prose(7)})])
    got = ingest(f)
    assert got.blank == 2 and got.docs.height == 4 and got.reasons() == []
    assert got.docs["input_line"].to_list() == [1, 2, 3, 6]  # blank lines still count as lines


def test_a_user_id_equal_to_a_quarantine_id_gets_two_distinct_rows(tmp_path: Path) -> None:
    import duckdb

    from flows.execute import run_local
    from flows.fsutil import text_sha256
    from flows.plan import RunOptions

    clash = f"q-{text_sha256('in/a.jsonl')[:8]}-1"  # the id assay gives the bad line 1 of in/a.jsonl
    path = tmp_path / "in" / "a.jsonl"
    path.parent.mkdir()
    path.write_bytes(b'{broken\n' + json.dumps({"id": clash, "text": prose(0)}).encode() + b"\n")
    m = run_local(RunOptions(inputs=(str(tmp_path / "in"),), out=tmp_path / "run", stages=(), progress=False))
    con = duckdb.connect(str(tmp_path / "run" / "ledger.duckdb"), read_only=True)
    rows = con.execute("SELECT doc_id, final FROM documents ORDER BY input_line").fetchall()
    assert rows == [(clash + "-q", "quarantined"), (clash, "kept")] and m["records"] == 2


def test_quarantine_excerpt_masks_before_cutting_and_reads_json_escapes() -> None:
    from flows.ingest.quarantine import EXCERPT_BYTES, excerpt

    cut = "x" * (EXCERPT_BYTES - 8) + " someone@example.org"  # the address straddles the cut
    assert "someone" not in excerpt(cut) and len(excerpt(cut).encode()) <= EXCERPT_BYTES
    escaped = '{"text": "mail jane\\u0040example\\u002ecom now"}'
    assert "jane" not in excerpt(escaped) and "<EMAIL>" in excerpt(escaped)
