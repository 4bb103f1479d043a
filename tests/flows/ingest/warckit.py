"""WARC files written byte by byte (not with the parser under test), and counted the same way."""
from __future__ import annotations

import gzip
import uuid
import zlib
from pathlib import Path

PAGE = ("<html><head><title>{title}</title></head><body><nav>Home | About | Contact</nav><article>"
        "<h1>{title}</h1><p>{body}</p><p>The river ran past the old mill and the children of the town "
        "went down to the water every evening to watch the boats come in from the sea.</p></article>"
        "<footer>Copyright 2024 Example Inc. All rights reserved.</footer></body></html>")


def page(title: str, body: str = "A long paragraph about the weather in the valley and what it meant.") -> bytes:
    return PAGE.format(title=title, body=body).encode()


def record(kind: str, uri: str = "https://example.org/", block: bytes = b"", record_id: str | None = None,
           extra: dict[str, str] | None = None, content_type: str | None = None) -> bytes:
    rid = record_id or f"urn:uuid:{uuid.UUID(int=abs(hash((kind, uri, block))) % 2**128)}"
    ctype = content_type or {"response": "application/http; msgtype=response",
                             "request": "application/http; msgtype=request",
                             "warcinfo": "application/warc-fields"}.get(kind, "application/octet-stream")
    head = {"WARC-Type": kind, "WARC-Record-ID": f"<{rid}>", "WARC-Date": "2024-04-25T16:27:55Z",
            "WARC-Target-URI": uri, "Content-Type": ctype, **(extra or {}), "Content-Length": str(len(block))}
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    return f"WARC/1.0\r\n{lines}\r\n".encode() + block + b"\r\n\r\n"


def response(uri: str, body: bytes, status: str = "200 OK", mime: str | None = "text/html; charset=utf-8",
             record_id: str | None = None, extra: dict[str, str] | None = None,
             http_extra: dict[str, str] | None = None) -> bytes:
    headers = ({"Content-Type": mime} if mime else {}) | (http_extra or {})
    http = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return record("response", uri, http.encode("latin-1") + body, record_id, extra)


def write_warc(path: Path, records: list[bytes], gz: bool | None = None) -> Path:
    """One gzip member per record (as Common Crawl writes them) when the name ends in .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    gz = path.name.endswith(".gz") if gz is None else gz
    path.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in records) if gz else b"".join(records))
    return path


def warc_records_in(path: str | Path) -> int | None:
    """Records in a WARC file, counted by walking the headers' Content-Length (None if damaged)."""
    data = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    n, pos = 0, 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if not data.startswith(b"WARC/1.", pos) or end < 0:
            return None
        length = next(int(line.split(b":", 1)[1]) for line in data[pos:end].split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        pos = end + 4 + length + 4
        n += 1
    return n
