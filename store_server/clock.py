"""One place that says what time it is, so tests can move time without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
