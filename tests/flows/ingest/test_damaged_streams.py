"""Damaged and hostile compressed streams cost exactly what they destroy: every record that decodes is
kept, what does not is quarantined with where the damage starts, every zstd frame is read, and a huge
line is measured and skipped while streaming, never held whole (issue #9)."""
from __future__ import annotations

import gzip
import json
import random
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import ingestkit
import pytest
import zstandard
from conftest import prose
from ingestkit import ingest

from flows.ingest.config import IngestConfig
from flows.ingest.discover import discover
from flows.ingest.read import IdBook, read_file


@pytest.fixture(autouse=True)
def _counts_damage(monkeypatch: pytest.MonkeyPatch) -> None:
    """ingestkit's independent count, with corrupt deflate data (zlib.error) counted as damage too."""
    count = ingestkit.records_in

    def records_in(file: ingestkit.DataFile) -> int | None:
        try:
            return count(file)
        except zlib.error:
            return None
    monkeypatch.setattr(ingestkit, "records_in", records_in)


def _body(n: int, noisy: bool = False) -> bytes:
    """n JSONL records; `noisy` adds an incompressible token so that the compressed file is large."""
    rnd = random.Random(n)
    return b"".join(json.dumps({"text": prose(i), **({"tok": rnd.randbytes(400).hex()} if noisy else {})}
                               ).encode() + b"\n" for i in range(n))


def _lines_before(data: bytes, offset: int, wbits: int | None = 31) -> int:
    """Complete lines in what the first `offset` bytes of an undamaged stream decode to."""
    head = (zlib.decompressobj(wbits).decompress(data[:offset]) if wbits is not None
            else zstandard.ZstdDecompressor().decompressobj().decompress(data[:offset]))
    return head.count(b"\n")


def _scramble(good: bytes, decode: type[Exception], codec: Callable[[bytes], bytes]) -> tuple[bytes, int]:
    """`good` with 16 bytes scrambled at the first place from its middle on where the codec itself
    stops with an error in the data (not only at the checksum: that damage decodes, see above)."""
    for at in range(len(good) // 2, len(good), 997):
        data = bytearray(good)
        for i in range(at, at + 16):
            data[i] ^= 0xA5
        try:
            codec(bytes(data))
        except decode as exc:
            if "check" not in str(exc) and "checksum" not in str(exc):
                return bytes(data), at
    raise AssertionError("no damage found that the codec detects")


def _accounted_before(got: ingestkit.Ingested, line: int) -> int:
    """Records of lines before `line` that became a document or a record-level quarantine row."""
    q = [r for r in got.quarantine.iter_rows(named=True) if r["input_line"] is not None and r["input_line"] < line]
    return got.docs.filter(got.docs["input_line"] < line).height + len(q)


@pytest.mark.parametrize("where", [-5, -8, -1, -4])  # the CRC32's bytes, then the ISIZE's
def test_gzip_checksum_flip_keeps_every_record(tmp_path: Path, where: int) -> None:
    body = _body(3000)
    data = bytearray(gzip.compress(body))
    data[where] ^= 0x20
    f = tmp_path / "crc.jsonl.gz"
    f.write_bytes(bytes(data))
    got = ingest(f)
    assert got.docs.height == 3000  # all of it decoded: nothing is lost to a trailer
    assert got.reasons() == [(None, "checksum_mismatch")]
    detail = got.quarantine["detail"][0]
    assert f"byte {len(data) - 8 if where in (-5, -8) else len(data) - 4}" in detail, detail
    assert ("incorrect data check" if where in (-5, -8) else "incorrect length check") in detail


def test_gzip_checksum_flip_in_first_member_keeps_later_members(tmp_path: Path) -> None:
    a = bytearray(gzip.compress(_body(300)))
    a[-6] ^= 1
    b = gzip.compress(b"".join(json.dumps({"text": prose(i + 5000)}).encode() + b"\n" for i in range(200)))
    f = tmp_path / "members.jsonl.gz"
    f.write_bytes(bytes(a) + b)
    got = ingest(f)
    assert got.docs.height == 500 and got.reasons() == [(None, "checksum_mismatch")]
    assert "(at line 301)" in got.quarantine["detail"][0]


def test_gzip_corrupt_deflate_byte_keeps_everything_before_it(tmp_path: Path) -> None:
    body = _body(6000, noisy=True)  # ~6 MB of JSONL, several MB compressed
    good = gzip.compress(body)
    assert len(good) > 2_000_000
    data, at = _scramble(good, zlib.error, lambda d: zlib.decompressobj(31).decompress(d))
    f = tmp_path / "bad.jsonl.gz"
    f.write_bytes(data)
    got = ingest(f)
    damaged = [r for r in got.quarantine.iter_rows(named=True) if r["reason"] == "damaged_stream"]
    assert len(damaged) == 1 and "truncated_stream" not in got.quarantine["reason"].to_list()
    line = damaged[0]["input_line"]
    before = _lines_before(good, at)
    assert line > before  # every line decoded before the flipped byte is there (the old reader lost ~1 MiB)
    assert _accounted_before(got, line) == line - 1  # conservation up to the damage: nothing silently gone
    assert got.docs.height >= before - 2 and got.docs.height < 6000
    detail = damaged[0]["detail"]
    offset = int(detail.split("compressed byte ")[1].split(" ")[0])
    assert at <= offset < at + 70_000, detail  # the damage is found at or shortly after the scrambled bytes
    assert f"{len(data) - offset} compressed bytes" in detail and f"from line {line}" in detail


def test_zstd_corrupt_block_keeps_the_blocks_before_it(tmp_path: Path) -> None:
    body = _body(6000, noisy=True)
    good = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(body)
    data, at = _scramble(good, zstandard.ZstdError,
                         lambda d: zstandard.ZstdDecompressor().decompressobj().decompress(d))
    f = tmp_path / "bad.jsonl.zst"
    f.write_bytes(data)
    got = ingest(f)
    damaged = [r for r in got.quarantine.iter_rows(named=True) if r["reason"] == "damaged_stream"]
    assert len(damaged) == 1, got.reasons()[-5:]
    line = damaged[0]["input_line"]
    before = _lines_before(good, at - 140_000, wbits=None)  # a block compresses to at most ~128 KiB + header
    assert line > before and _accounted_before(got, line) == line - 1
    assert got.docs.height >= before - 2 and got.docs.height < 6000


def test_multi_frame_zstd_reads_every_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def all_frames(file: ingestkit.DataFile) -> int | None:  # ingestkit's count reads one frame only
        data, out = Path(file.path).read_bytes(), 0
        while data:
            d = zstandard.ZstdDecompressor().decompressobj()
            out += sum(1 for line in d.decompress(data).split(b"\n") if line.strip())
            data = d.unused_data
        return out
    monkeypatch.setattr(ingestkit, "records_in", all_frames)
    frames = [zstandard.ZstdCompressor().compress(b"".join(json.dumps({"text": prose(k * 1000 + i)}).encode()
                                                          + b"\n" for i in range(n)))
              for k, n in enumerate([100, 1, 250])]
    f = tmp_path / "cat.jsonl.zst"
    f.write_bytes(b"".join(frames))
    got = ingest(f)
    assert got.reasons() == [] and got.docs.height == 351
    assert got.docs["input_line"].to_list() == list(range(1, 352))


@pytest.mark.parametrize("ext", ["gz", "zst"])
def test_huge_single_line_is_measured_not_held(tmp_path: Path, ext: str) -> None:
    size = 50_000_000  # compresses to ~50 KB (gzip) or ~2 KB (zstd)
    line = b'{"text": "' + b"a" * size + b'"}\n'
    f = tmp_path / f"one.jsonl.{ext}"
    body = line + json.dumps({"text": prose(1)}).encode() + b"\n"
    f.write_bytes(gzip.compress(body, compresslevel=1) if ext == "gz" else zstandard.ZstdCompressor().compress(body))
    del body
    del line
    cfg = IngestConfig(max_doc_bytes=1_000_000)
    file = discover([str(f)], None).files[0]
    tracemalloc.start()
    try:
        rows = list(read_file(cfg, file, IdBook()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12_000_000, peak  # bounded by max_doc_bytes and a few read blocks, not by the line
    assert [k for k, _ in rows] == ["quarantine", "doc"]
    q = rows[0][1]
    assert q["reason"] == "too_large" and q["input_line"] == 1
    assert q["detail"] == f"{size + 12} bytes > max_doc_bytes 1000000" and q["excerpt"].startswith('{"text": "aaa')
    assert rows[1][1]["input_line"] == 2


@pytest.mark.parametrize("crlf", [False, True])
def test_long_lines_in_plain_jsonl_are_streamed_too(tmp_path: Path, crlf: bool) -> None:
    end = b"\r\n" if crlf else b"\n"
    big = b'{"text": "' + b"b" * 3_000_000 + b'"}'
    ok = [json.dumps({"text": prose(i)}).encode() for i in range(3)]
    f = tmp_path / "long.jsonl"
    f.write_bytes(end.join([ok[0], big, ok[1], big, ok[2], big]))  # the last one without a line end
    got = ingest(f, max_doc_bytes=1_000_000)
    assert got.reasons() == [(2, "too_large"), (4, "too_large"), (6, "too_large")] and got.docs.height == 3
    assert set(got.quarantine["detail"]) == {f"{len(big)} bytes > max_doc_bytes 1000000"}
    at_limit = tmp_path / "limit.jsonl"  # exactly max_doc_bytes is still a record
    at_limit.write_bytes(end.join([big, ok[0]]) + end)
    assert ingest(at_limit, max_doc_bytes=len(big)).reasons() == []


def _deep(n: int) -> str:
    return '{"text": "' + prose(n) + '", "x": ' + "[" * n + "]" * n + "}"


def test_deeply_nested_records_are_quarantined_not_fatal(tmp_path: Path) -> None:
    depths = [100, 200, 253, 254, 300, 1000, 1022, 5000]
    f = tmp_path / "deep.jsonl"
    f.write_text("\n".join(_deep(n) for n in depths) + "\n" + json.dumps({"text": prose(1)}) + "\n")
    got = ingest(f)
    assert got.reasons() == [(4, "too_deeply_nested"), (5, "too_deeply_nested"), (6, "too_deeply_nested"),
                             (7, "too_deeply_nested"), (8, "invalid_json")]
    assert got.docs["input_line"].to_list() == [1, 2, 3, 9]


def test_deeply_nested_elements_of_json_arrays_and_parquet(tmp_path: Path) -> None:
    f = tmp_path / "deep.json"
    f.write_text("[" + ",".join([_deep(300), json.dumps({"text": prose(1)}), _deep(10)]) + "]")
    got = ingest(f)
    assert got.reasons() == [(1, "too_deeply_nested")] and got.docs["input_line"].to_list() == [2, 3]


def test_json_array_with_a_bad_gzip_checksum_is_kept_and_flagged(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(json.dumps([{"text": prose(i)} for i in range(20)]).encode()))
    data[-7] ^= 1
    f = tmp_path / "arr.json.gz"
    f.write_bytes(bytes(data))
    got = ingest(f)
    assert got.docs.height == 20 and got.reasons() == [(None, "checksum_mismatch")]


def _members(body: bytes, cuts: int, compress: Callable[[bytes], bytes]) -> list[bytes]:
    """`body` compressed as `cuts` independent members/frames split at byte offsets that fall
    inside lines, as bgzip, `pigz -i` and pzstd write them."""
    size = len(body) // cuts
    return [compress(body[k * size:(k + 1) * size if k < cuts - 1 else len(body)]) for k in range(cuts)]


@pytest.mark.parametrize("ext", ["gz", "zst"])
def test_damage_in_one_member_costs_that_member_only(tmp_path: Path, ext: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = _body(2000, noisy=True)
    codec = gzip.compress if ext == "gz" else zstandard.ZstdCompressor(write_checksum=True).compress
    parts = _members(body, 5, codec)
    if ext == "gz":  # deflate decodes most scrambled bytes into garbage; a reserved block type it refuses
        bad = bytearray(parts[2])
        bad[10] = 0b111  # the member's first deflate block: final, type 3 (reserved)
        bad = bytes(bad)
    else:
        bad, _ = _scramble(parts[2], zstandard.ZstdError,
                           lambda d: zstandard.ZstdDecompressor().decompressobj().decompress(d))
    data = b"".join([*parts[:2], bad, *parts[3:]])
    f = tmp_path / f"bgzip.jsonl.{ext}"
    f.write_bytes(data)
    monkeypatch.setattr(ingestkit, "records_in", lambda file: None)  # its count stops at the damage
    got = ingest(f)
    damaged = [r for r in got.quarantine.iter_rows(named=True) if r["reason"] == "damaged_stream"]
    assert len(damaged) == 1, got.reasons()
    start = sum(len(p) for p in parts[:3])
    assert f"up to the next {'member' if ext == 'gz' else 'frame'} at byte {start} are lost" in damaged[0]["detail"]
    texts = set(got.docs["text"].to_list())
    lines = body.split(b"\n")[:-1]
    share = len(body) // 5
    first_lost = body[:2 * share].count(b"\n")  # the line the damaged member starts in
    after = body[:3 * share].count(b"\n") + 1  # the first line wholly inside member 4
    want = [json.loads(line)["text"] for line in lines[:first_lost] + lines[after:]]
    assert all(t in texts for t in want)  # every record outside the damaged member is kept
    assert got.docs.height < 2000 - 100  # and the damaged member's records are not invented
    # the fragment at the resume point is quarantined as what it is, never glued to the line before
    assert {r for _, r in got.reasons()} <= {"damaged_stream", "invalid_json"}
    assert texts <= {json.loads(line)["text"] for line in lines}  # nothing glued across the lost bytes
