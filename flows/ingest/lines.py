"""Byte-level line readers for JSONL files, plain or compressed. They yield raw lines and report a
damaged stream instead of raising, so that one truncated file costs its tail (quarantined) and never
the run."""
from __future__ import annotations

import zlib
from collections.abc import Iterator

import zstandard

CHUNK = 1 << 20


def _chunks(path: str, fmt: str) -> Iterator[bytes | Exception]:
    with open(path, "rb") as fh:
        if fmt == "jsonl.gz":
            # zlib directly rather than GzipFile: on a truncated stream GzipFile raises and drops
            # everything it decoded in that read; a decompressobj hands over all it could decode.
            dobj = zlib.decompressobj(wbits=31)
            while block := fh.read(CHUNK):
                while block:
                    try:
                        yield dobj.decompress(block)
                    except zlib.error as exc:
                        yield exc
                        return
                    block = dobj.unused_data  # a concatenated (multi-member) gzip file
                    if block:
                        dobj = zlib.decompressobj(wbits=31)
            if not dobj.eof:
                yield EOFError("gzip stream ended before its end-of-stream marker")
        elif fmt == "jsonl.zst":
            dobj = zstandard.ZstdDecompressor().decompressobj()
            while block := fh.read(CHUNK):
                try:
                    yield dobj.decompress(block)
                except zstandard.ZstdError as exc:
                    yield exc
                    return
            if not dobj.eof:
                yield EOFError("zstd stream ended before the end of its frame")
        else:
            while block := fh.read(CHUNK):
                yield block


def read_whole(path: str, fmt: str) -> bytes | Exception:
    """The whole decompressed stream (a JSON array file is one document), or the damage."""
    parts = []
    for block in _chunks(path, fmt):
        if isinstance(block, Exception):
            return block
        parts.append(block)
    return b"".join(parts).removeprefix(b"\xef\xbb\xbf")


def starts_with(path: str, fmt: str, char: bytes) -> bool:
    """Whether the stream's first non-blank byte is `char` (reads one block, no more)."""
    for block in _chunks(path, fmt):
        if isinstance(block, Exception):
            return False
        head = block.removeprefix(b"\xef\xbb\xbf").lstrip()
        if head:
            return head.startswith(char)
    return False


def read_lines(path: str, fmt: str) -> Iterator[tuple[int, bytes] | tuple[int, Exception]]:
    """Yield (line_number, raw_line) with line endings and a leading BOM removed.

    A damaged compressed stream ends the iteration with (line_number, exception) for the line at
    which the damage begins; the partial line before it belongs to the damaged tail.
    """
    line_no = 0
    pending: list[bytes] = []  # pieces of the unfinished line: joined once, never re-copied per block
    first = True
    for block in _chunks(path, fmt):
        if isinstance(block, Exception):
            yield line_no + 1, block
            return
        if first and block:
            block = block.removeprefix(b"\xef\xbb\xbf")
            first = False
        lines = block.split(b"\n")
        if len(lines) == 1:  # no line ends in this block (a long line): only collect it
            pending.append(block)
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
        pending = [lines.pop()]
        for line in lines:
            line_no += 1
            yield line_no, line.removesuffix(b"\r")
    tail = b"".join(pending)
    if tail:
        yield line_no + 1, tail.removesuffix(b"\r")
