"""Times as people type and read them: ISO-8601 text to and from ms since the epoch, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

DAY_MS = 86_400_000


def iso_ms(text: str) -> int:
    """ms since the epoch of an ISO date or date-time (``2026-12-01``,
    ``2026-12-01T18:00Z``, ``2026-12-01T19:00+01:00``); UTC unless it names a zone.
    ValueError when it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_text(time_ms: int) -> str:
    """ms since the epoch as ISO-8601 UTC to the second: ``2026-12-01T18:00:00Z``."""
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
