"""Reading input files into documents and quarantine rows (the runner's job, not a stage's).

    discover.py    input paths -> DataFile(path, canonical name, format) + skipped entries, with why
    read.py        read_file(cfg, file, ids): ("doc" | "quarantine" | "blank", row) per line or row
    kinds.py       record kinds: detection per file, typed content fields, ShareGPT and role mapping
    lines.py       byte-level JSONL line readers (plain, gzip, zstd) that survive a damaged stream
    quarantine.py  every quarantine reason and what it means; PII-masked excerpts
    config.py      IngestConfig: the run-level options (text/id fields, record kind, field map)

Nothing is imported here, so that `flows.ingest.config` (needed by the CLI's --help) stays light.
"""
