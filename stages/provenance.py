"""Provenance tagging: source, license, URL/domain and crawl date for every document.

Values come from the record's own metadata first (HF/Dolma/CCNet field names), then from run
options (`--source`/`--license`). Never removes a document; the tags land as columns on the curated
documents and in every decision, so a release can be filtered by license or domain in SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from stages.base import Scope, StageResult, decide
from stages.options import option

URL_KEYS = ("url", "URL", "source_url", "warc_target_uri", "link")
LICENSE_KEYS = ("license", "licence", "license_name")
DATE_KEYS = ("crawl_date", "date", "timestamp", "created", "date_download")


def _first_meta(keys: tuple[str, ...]) -> pl.Expr:
    return pl.coalesce([pl.col("meta").str.json_path_match(f"$.{k}") for k in keys])


@dataclass(frozen=True)
class Provenance:
    name: ClassVar[str] = "provenance"
    version: ClassVar[int] = 1
    reasons: ClassVar[frozenset[str]] = frozenset()
    scope: ClassVar[Scope] = "document"
    license: str | None = option(None, "license of records that name none", alias="--license")
    crawl_date: str | None = option(None, "crawl date of records that name none")

    def apply(self, docs: pl.DataFrame, res: Any = None) -> StageResult:
        url = _first_meta(URL_KEYS)
        domain = url.str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^:/?#]+)", 1).str.to_lowercase()
        tags = {
            "provenance_source": pl.col("source"),
            "provenance_license": pl.coalesce([_first_meta(LICENSE_KEYS), pl.lit(self.license, pl.String)]),
            "provenance_url": url,
            "provenance_domain": domain.str.strip_prefix("www."),
            "provenance_crawl_date": pl.coalesce([_first_meta(DATE_KEYS), pl.lit(self.crawl_date, pl.String)]),
        }
        return decide(docs, reason=pl.lit(None, pl.String), scores=tags)
