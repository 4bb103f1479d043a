"""Finding input files: canonical names independent of how a path is spelled, deterministic order,
each file read once, and every entry of an input folder that is not read reported with why."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from conftest import write_jsonl
from ingestkit import ingest

from flows.errors import InputError
from flows.ingest import lines
from flows.ingest.discover import DataFile, Discovery, discover


def _project(root: Path) -> Path:
    write_jsonl(root / "data" / "b.jsonl", [{"text": "b"}])
    write_jsonl(root / "data" / "a.jsonl", [{"text": "a"}])
    write_jsonl(root / "data" / "sub" / "c.ndjson", [{"text": "c"}])
    (root / "more.jsonl.gz").write_bytes(gzip.compress(b'{"text": "m"}\n'))
    return root


def _names(found: Discovery) -> list[tuple[str, str]]:
    return [(f.name, f.format) for f in found.files]


def test_canonical_names_do_not_depend_on_how_paths_are_spelled(tmp_path: Path, monkeypatch) -> None:
    root = _project(tmp_path / "proj").resolve()
    expected = [("data/a.jsonl", "jsonl"), ("data/b.jsonl", "jsonl"), ("data/sub/c.ndjson", "jsonl"),
                ("more.jsonl.gz", "jsonl.gz")]
    absolute = discover([str(root / "data"), str(root / "more.jsonl.gz")])
    assert _names(absolute) == expected
    monkeypatch.chdir(root)
    assert discover(["data/", "./more.jsonl.gz"]) == absolute
    monkeypatch.chdir(root / "data" / "sub")
    assert discover(["..", "../../more.jsonl.gz"]) == absolute
    assert absolute.files[0] == DataFile(str(root / "data" / "a.jsonl"), "data/a.jsonl", "jsonl")


def test_names_start_at_the_common_parent_of_the_inputs(tmp_path: Path, monkeypatch) -> None:
    root = _project(tmp_path)
    assert _names(discover([str(root / "more.jsonl.gz")])) == [("more.jsonl.gz", "jsonl.gz")]
    monkeypatch.chdir(root / "data")
    assert [f.name for f in discover(["."]).files] == ["data/a.jsonl", "data/b.jsonl", "data/sub/c.ndjson"]
    assert [f.name for f in discover(["sub"]).files] == ["sub/c.ndjson"]
    assert [f.name for f in discover(["sub/c.ndjson", "a.jsonl"]).files] == ["sub/c.ndjson", "a.jsonl"]


def test_files_keep_argument_order_and_each_is_read_once(tmp_path: Path) -> None:
    root = _project(tmp_path)
    found = discover([str(root / "more.jsonl.gz"), str(root / "data" / "b.jsonl"), str(root / "data"),
                      str(root / "data" / "sub" / ".." / "b.jsonl")])
    assert [f.name for f in found.files] == ["more.jsonl.gz", "data/b.jsonl", "data/a.jsonl", "data/sub/c.ndjson"]
    assert ingest(root / "data", root / "data" / "a.jsonl").docs["text"].to_list() == ["a", "b", "c"]


def test_unread_entries_of_input_folders_are_reported(tmp_path: Path) -> None:
    root = _project(tmp_path)
    data = root / "data"
    (data / "crawl.arc.gz").write_bytes(b"x")  # the WARC format's predecessor
    (data / "readme.txt").write_text("x")
    (data / "old.jsonl.bz2").write_bytes(b"x")
    (data / "LICENSE").write_text("x")
    (data / ".DS_Store").write_bytes(b"x")
    (data / ".git" / "objects").mkdir(parents=True)
    (data / ".git" / "objects" / "ab.jsonl").write_text("{}")
    (root / "elsewhere").mkdir()
    write_jsonl(root / "elsewhere" / "x.jsonl", [{"text": "x"}])
    os.symlink(root / "elsewhere", data / "linked")
    write_jsonl(data / "oldrun" / "curated" / "part-0.jsonl", [{"text": "curated"}])
    (data / "oldrun" / "work" / "00-ingest-abc").mkdir(parents=True)
    (data / "oldrun" / "work" / "00-ingest-abc" / "_done.json").write_text("{}")
    write_jsonl(data / "out" / "curated.jsonl", [{"text": "this run's own output"}])
    found = discover([str(data)], exclude=data / "out")
    assert [f.name for f in found.files] == ["data/a.jsonl", "data/b.jsonl", "data/sub/c.ndjson"]
    assert found.skipped == (  # canonical names, like the files'
        ("data/.DS_Store", "hidden file"),
        ("data/.git/", "hidden folder, not searched"),
        ("data/LICENSE", "no file extension"),
        ("data/crawl.arc.gz", "unsupported type .arc.gz"),
        ("data/linked/", "link to a folder, not followed"),
        ("data/old.jsonl.bz2", "unsupported compression .bz2 (use .gz or .zst)"),
        ("data/oldrun/", "an earlier assay run's folder, never an input"),
        ("data/readme.txt", "unsupported type .txt"),
    )


def test_a_run_folder_is_never_an_input(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_jsonl(run / "curated" / "part.jsonl", [{"text": "x"}])
    (run / "work" / "01-quality-0f").mkdir(parents=True)
    (run / "work" / "01-quality-0f" / "_done.json").write_text("{}")
    with pytest.raises(InputError, match=f"^input is an assay run's folder, whose files are never inputs: {run} "):
        discover([str(run)])
    assert [f.name for f in discover([str(run / "curated")]).files] == ["curated/part.jsonl"]


def test_a_linked_file_keeps_its_own_name(tmp_path: Path) -> None:
    # A Hugging Face cache links readable names to blobs named by their hash.
    blob = write_jsonl(tmp_path / "blobs" / "9f2c1e", [{"text": "x"}])
    (tmp_path / "snap").mkdir()
    os.symlink(blob, tmp_path / "snap" / "train.jsonl")
    assert discover([str(tmp_path / "snap")]).files == (DataFile(str(blob.resolve()), "snap/train.jsonl", "jsonl"),)
    assert discover([str(tmp_path / "snap" / "train.jsonl")]).files == (DataFile(str(blob.resolve()), "train.jsonl", "jsonl"),)


def test_lines_split_across_read_blocks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lines, "CHUNK", 7)  # every line and the CRLF pairs cross block boundaries
    recs = [{"text": "x" * n} for n in (1, 30, 0, 5)]
    f = tmp_path / "in.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(json.dumps(r).encode() for r in recs) + b"\r\n\r\n" + b'{"text": "end"}')
    got = list(lines.read_lines(str(f), "jsonl"))
    assert got == [(i + 1, json.dumps(r).encode()) for i, r in enumerate(recs)] + [(5, b""), (6, b'{"text": "end"}')]


def test_fifos_and_undecodable_names_neither_hang_nor_fail(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "in"
    write_jsonl(folder / "a.jsonl", [{"text": "hello there"}])
    os.mkfifo(folder / "pipe.jsonl")  # opening it would block forever
    odd = os.fsencode(str(folder)) + b"/bad\xffname.jsonl"
    with open(odd, "wb") as fh:
        fh.write(b'{"text": "x y z"}\n')
    got = ingest(folder)
    assert sorted(got.docs["input_file"].to_list()) == ["in/a.jsonl", "in/bad\\xffname.jsonl"]
    assert ("in/pipe.jsonl", "not a regular file (FIFO, socket or device)") in got.found.skipped
