"""Byte-level line readers for JSONL files, plain or compressed. They yield raw lines and report a
damaged stream instead of raising, so that damage costs exactly what it destroys and never the run:
every byte that decodes before the damage is kept, a bad checksum keeps everything (the data decoded),
and a line longer than the caller's limit is measured and skipped without being held in memory."""
from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import zstandard

CHUNK = 1 << 20  # file reads, and the most decompressed output one call may produce (gzip)
PIECE = 1 << 16  # compressed bytes handed to the decoder at a time
MIN_STEP = 64  # the least zstd input per call: at most ~16 blocks (2 MiB) of output


@dataclass
class Damage:
    """Where and how a compressed stream is damaged. `fatal` damage ends the stream (what follows
    `offset` is unread); a checksum mismatch is not fatal: the data before it decoded and is kept."""
    fmt: str
    offset: int  # byte offset in the compressed file where the damage starts
    size: int  # the compressed file's size
    message: str
    fatal: bool = True
    truncated: bool = False  # the file ends before its stream does
    resumed: int | None = None  # fatal damage, but decoding went on at the next member/frame here

    def __str__(self) -> str:
        what = "gzip" if self.fmt == "jsonl.gz" else "zstd"
        if not self.fatal:
            return (f"{what} checksum or length mismatch at compressed byte {self.offset} of {self.size} "
                    f"({self.message}); all data before it decoded and was kept")
        if self.truncated:
            return f"{what} stream ends at byte {self.size} before its end ({self.message})"
        if self.resumed is not None:
            unit = "member" if what == "gzip" else "frame"
            return (f"{what} stream damaged at compressed byte {self.offset} of {self.size} ({self.message}); "
                    f"{self.resumed - self.offset} compressed bytes up to the next {unit} at byte {self.resumed} "
                    f"are lost, reading resumed there (the first line after it may be a fragment)")
        return (f"{what} stream damaged at compressed byte {self.offset} of {self.size} ({self.message}); "
                f"{self.size - self.offset} compressed bytes from there on are lost")


@dataclass
class LongLine:
    """A line longer than the caller's limit: measured and skipped, only its head kept."""
    size: int  # bytes, line ending excluded
    head: bytes


class _Decoder:
    """Decodes a compressed file (any number of gzip members or zstd frames, one after another) from
    pieces of input; raises the codec's error on damage."""

    def __init__(self, fmt: str) -> None:
        self.gz = fmt == "jsonl.gz"
        self.dobj: object | None = None  # created when a member/frame's first byte arrives
        self.step = MIN_STEP  # zstd input per call: starts small, so that a bomb cannot flood memory

    def _new(self) -> object:
        return zlib.decompressobj(wbits=31) if self.gz else zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self.dobj is None or self.dobj.eof:  # type: ignore[attr-defined]
                if self.dobj is not None and data[0] == 0 and not data.strip(b"\x00"):
                    return  # zero padding after the last member (as gzip allows)
                self.dobj = self._new()
            d = self.dobj
            if self.gz:
                out = d.decompress(data, CHUNK)  # type: ignore[attr-defined]
                if out:
                    yield out
                data = d.unconsumed_tail  # type: ignore[attr-defined]
                while not data and len(out) == CHUNK and not d.eof:  # type: ignore[attr-defined]
                    out = d.decompress(b"", CHUNK)  # type: ignore[attr-defined]
                    if out:
                        yield out
                    data = d.unconsumed_tail  # type: ignore[attr-defined]
            else:
                # zstd has no output limit per call, and 4 bytes can hold a 128 KiB block: feed it
                # `step` bytes at a time, halved while output runs large, doubled back while small.
                i = 0
                while i < len(data) and not d.eof:  # type: ignore[attr-defined]
                    out = d.decompress(data[i:i + self.step])  # type: ignore[attr-defined]
                    i += self.step
                    if out:
                        yield out
                    if len(out) > CHUNK:
                        self.step = max(MIN_STEP, self.step // 2)
                    elif len(out) < CHUNK // 2:
                        self.step = min(PIECE, self.step * 2)
                data = d.unused_data + data[i:] if d.eof else b""  # type: ignore[attr-defined]
                continue
            if d.eof:  # type: ignore[attr-defined]
                data = d.unused_data  # type: ignore[attr-defined]  # the next member/frame

    def complete(self) -> bool:
        return self.dobj is None or bool(self.dobj.eof)  # type: ignore[attr-defined]


def _locate(path: str, fmt: str, base: int, start: int, emitted: int) -> tuple[list[bytes], int, str]:
    """After an error in the piece fed at `start`: replay the stream from `base`, then feed the piece
    byte by byte. Returns the output not yet emitted (`emitted` bytes were), the exact offset of the
    byte at which the decoder fails, and its message."""
    dec, out, seen = _Decoder(fmt), [], 0
    with open(path, "rb") as fh:
        fh.seek(base)
        pos = base
        while pos < start:
            block = fh.read(min(CHUNK, start - pos))
            for part in dec.feed(block):  # replayed output: already emitted up to `emitted`
                seen += len(part)
            pos += len(block)
        piece = fh.read(PIECE)
    for i in range(len(piece)):
        try:
            for part in dec.feed(piece[i:i + 1]):
                if seen + len(part) > emitted:
                    out.append(part[max(0, emitted - seen):])
                seen += len(part)
        except (zlib.error, zstandard.ZstdError) as exc:
            return out, start + i, str(exc)
    return out, start + len(piece), "error not reproduced"  # cannot happen: decoding is deterministic


# Where a gzip member (deflate, no reserved flags checked here) or a zstd frame can start.
_MAGIC = {"jsonl.gz": b"\x1f\x8b\x08", "jsonl.zst": b"\x28\xb5\x2f\xfd"}
_PROBE = 1 << 18  # compressed bytes a candidate start must decode without error to be believed


def _decodes_from(path: str, fmt: str, at: int) -> bool:
    dec, out = _Decoder(fmt), 0
    with open(path, "rb") as fh:
        fh.seek(at)
        probe = fh.read(_PROBE)
    try:
        for part in dec.feed(probe):
            out += len(part)
    except (zlib.error, zstandard.ZstdError):
        return False
    return out > 0


def _next_start(path: str, fmt: str, after: int) -> int | None:
    """The next offset after damage where a member/frame starts and decodes. Files written by
    `pigz -i`, bgzip, pzstd or `cat a.gz b.gz` restart there: damage costs one member, not the rest
    of the file. A single-member stream has no such point (deflate cannot be resynchronised)."""
    magic = _MAGIC[fmt]
    with open(path, "rb") as fh:
        pos = after + 1
        while True:
            fh.seek(pos)
            window = fh.read(CHUNK)
            if len(window) < len(magic):
                return None
            i = window.find(magic)
            if i < 0:
                pos += len(window) - len(magic) + 1
                continue
            if _decodes_from(path, fmt, pos + i):
                return pos + i
            pos += i + 1


def _chunks(path: str, fmt: str) -> Iterator[bytes | Damage]:
    with open(path, "rb") as fh:
        if fmt not in ("jsonl.gz", "jsonl.zst"):
            while block := fh.read(CHUNK):
                yield block
            return
        size = os.fstat(fh.fileno()).st_size
        dec, base, pos, emitted = _Decoder(fmt), 0, 0, 0
        while block := fh.read(CHUNK):
            for i in range(0, len(block), PIECE):
                piece = block[i:i + PIECE]
                try:
                    for part in dec.feed(piece):
                        emitted += len(part)
                        yield part
                except (zlib.error, zstandard.ZstdError):
                    # Keep what decoded before the failing byte: find it, emit everything before it.
                    out, at, message = _locate(path, fmt, base, pos + i, emitted)
                    yield from out
                    message = message.removeprefix("Error -3 while decompressing data: ")
                    message = message.removeprefix("zstd decompressor error: ")
                    if "incorrect data check" in message or "incorrect length check" in message \
                            or "checksum" in message:
                        # The trailer disagrees with data that decoded: keep it all, go on after it.
                        crc = "incorrect data check" in message
                        yield Damage(fmt, at - 3, size, message, fatal=False)
                        base = at + (5 if crc else 1)  # a gzip CRC is followed by its 4-byte length
                        fh.seek(base)
                        dec, pos, emitted = _Decoder(fmt), base, 0
                        break
                    resume = _next_start(path, fmt, at)
                    yield Damage(fmt, at, size, message, resumed=resume)
                    if resume is None:
                        return
                    base = resume
                    fh.seek(base)
                    dec, pos, emitted = _Decoder(fmt), base, 0
                    break
            else:
                pos += len(block)
                continue
        if not dec.complete():
            yield Damage(fmt, size, size, "no end-of-stream marker", truncated=True)


def read_whole(path: str, fmt: str) -> tuple[bytes | Damage, list[Damage]]:
    """The whole decompressed stream (a JSON array file is one document), or the fatal damage; and
    the checksum mismatches met on the way (the data decoded and is kept)."""
    parts, notes = [], []
    for block in _chunks(path, fmt):
        if isinstance(block, Damage):
            if block.fatal:
                return block, notes
            notes.append(block)
            continue
        parts.append(block)
    return b"".join(parts).removeprefix(b"\xef\xbb\xbf"), notes


def starts_with(path: str, fmt: str, char: bytes) -> bool:
    """Whether the stream's first non-blank byte is `char` (reads one block, no more)."""
    for block in _chunks(path, fmt):
        if isinstance(block, Damage):
            return False
        head = block.removeprefix(b"\xef\xbb\xbf").lstrip()
        if head:
            return head.startswith(char)
    return False


def read_lines(path: str, fmt: str, max_line: int | None = None
               ) -> Iterator[tuple[int, bytes] | tuple[int, Damage] | tuple[int, LongLine]]:
    """Yield (line_number, raw_line) with line endings and a leading BOM removed.

    A line longer than `max_line` (+1, for a "\\r") is yielded as a LongLine: it is never held whole.
    Damage in a compressed stream is yielded as (line_number, Damage) for the line at which it begins;
    fatal damage ends the iteration, and the partial line before it belongs to the damaged tail.
    """
    line_no = 0
    pending: list[bytes] = []  # pieces of the unfinished line: joined once, never re-copied per block
    pending_size = 0
    skipping: LongLine | None = None  # the line being skipped, once it outgrew max_line
    limit = None if max_line is None else max_line + 1
    first = True
    for block in _chunks(path, fmt):
        if isinstance(block, Damage):
            yield line_no + 1, block
            if block.fatal and block.resumed is None:
                return
            if block.fatal:  # the unfinished line lost its end: it belongs to the damage
                line_no += 1
                pending, pending_size, skipping = [], 0, None
            continue
        if first and block:
            block = block.removeprefix(b"\xef\xbb\xbf")
            first = False
        if skipping is not None:
            end = block.find(b"\n")
            if end < 0:
                skipping.size += len(block)
                continue
            skipping.size += len(block[:end].removesuffix(b"\r"))
            line_no += 1
            yield line_no, skipping
            skipping = None
            block = block[end + 1:]
        lines = block.split(b"\n")
        if len(lines) == 1:  # no line ends in this block (a long line): only collect it
            pending.append(block)
            pending_size += len(block)
            if limit is not None and pending_size > limit:
                head = b"".join(pending)[:1024]
                skipping, pending, pending_size = LongLine(pending_size, head), [], 0
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
        pending = [lines.pop()]
        pending_size = len(pending[0])
        for line in lines:
            line_no += 1
            yield line_no, line.removesuffix(b"\r")
    if skipping is not None:
        yield line_no + 1, skipping
        return
    tail = b"".join(pending)
    if tail:
        yield line_no + 1, tail.removesuffix(b"\r")
