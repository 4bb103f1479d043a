"""Record and ledger schemas: the one place that says what crosses a stage boundary."""
from schemas.records import (
    DECISION_SCHEMA,
    DECISIONS,
    DOCUMENT_SCHEMA,
    QUARANTINE_SCHEMA,
    SchemaError,
    check_schema,
    empty,
)

__all__ = [
    "DECISION_SCHEMA",
    "DECISIONS",
    "DOCUMENT_SCHEMA",
    "QUARANTINE_SCHEMA",
    "SchemaError",
    "check_schema",
    "empty",
]
