"""The one PII engine of assay: presidio's pattern recognizers (offline), tuned and extended through
presidio's own extension points, behind a cheap regex prefilter.

- `prefilter`: candidate windows; a text with none never reaches presidio.
- `recognizers`: the recognizers we add or tune (imports presidio; loaded lazily).
- `engine`: `Detector` (built once per worker) returns spans (type, start, end, score).
- `masker`: the masker every other writer uses (ledger ids, source, URLs, metadata, quarantine
  excerpts): typed placeholders, and for identifiers a keyed hash alongside the masked form.

Importing this package is cheap; presidio (~3 s of imports: it pulls in spaCy and torch) is
imported only when a text holds a candidate.
"""
